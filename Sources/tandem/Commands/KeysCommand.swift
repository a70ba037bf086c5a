import ArgumentParser
import Foundation
import TandemGateway

/// `tandem keys`: the gateway's API keys file, edited without writing JSON by hand. The gateway
/// reads changes on SIGHUP (`tandem up` sends it on reload).
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make, revoke and list the gateway's API keys (the keys file holds hashes only).",
        subcommands: [Add.self, Revoke.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a key for a tenant, store its hash, print the key once.")
        @Option(help: "The keys file (created when missing).") var file: String
        @Option(help: "The tenant the key belongs to (a tenant of the gateway configuration).") var tenant: String
        @Option(help: "A name for the key in logs and in `keys list`/`keys revoke --id`.") var id: String?
        @Option(help: "When the key stops working: an ISO 8601 date (2027-01-31, midnight UTC) or date and time.") var expires: String?
        @Option(help: "Or: days from now until it stops working.") var days: Int?

        func validate() throws {
            if expires != nil && days != nil { throw ValidationError("give --expires or --days, not both") }
            if let days, days < 1 { throw ValidationError("--days must be at least 1") }
        }

        func run() throws {
            var keys = try KeysFile.read(path: file)
            let expiry = expires ?? days.map { ISO8601DateFormatter().string(from: Date().addingTimeInterval(Double($0) * 86_400)) }
            do {
                let key = try keys.add(tenant: tenant, id: id, expires: expiry)
                try keys.write(path: file)
                print(key)
                FileHandle.standardError.write(Data("stored the key's hash in \(file)\(id.map { " as '\($0)'" } ?? "") for tenant '\(tenant)'\(expiry.map { ", expires \($0)" } ?? ""); reload the gateway (SIGHUP) to accept it. The key is not stored: keep it now.\n".utf8))
            } catch let e as KeysFile.EditError {
                throw ValidationError(e.description)
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a key by its id or by the key itself.")
        @Option(help: "The keys file.") var file: String
        @Option(help: "The key's id.") var id: String?
        @Option(help: "The key itself.") var key: String?

        func validate() throws {
            if (id == nil) == (key == nil) { throw ValidationError("give --id or --key") }
        }

        func run() throws {
            var keys = try KeysFile.read(path: file)
            let removed = keys.revoke(id: id, key: key)
            guard removed > 0 else { throw ValidationError("no key \(id.map { "with id '\($0)'" } ?? "matching --key") in \(file)") }
            try keys.write(path: file)
            FileHandle.standardError.write(Data("removed \(removed) key\(removed == 1 ? "" : "s") from \(file); reload the gateway (SIGHUP) to refuse \(removed == 1 ? "it" : "them").\n".utf8))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the keys: id, tenant, expiry, hash prefix.")
        @Option(help: "The keys file.") var file: String

        func run() throws {
            print(try KeysFile.read(path: file).listing(), terminator: "")
        }
    }
}
