/// The "council" workload: seven realistic tasks with their own output budgets. Reasoning models
/// spend hundreds of tokens thinking before they answer, so every budget is at least 1,200.
/// `CouncilChecks` checks each answer automatically.
public struct CouncilTask: Sendable, Equatable {
    public var name: String
    public var prompt: String
    public var maxTokens: Int
}

public enum CouncilTasks {
    public static let all: [CouncilTask] = [
        CouncilTask(name: "task-decomposition", prompt: """
            Break the following project into a numbered list of concrete engineering tasks, each with \
            an owner role, an estimate in days and its dependencies: "Move a company's nightly batch \
            reporting from a single PostgreSQL server to a streaming pipeline that updates dashboards \
            within five minutes, without losing the existing monthly reports."
            """, maxTokens: 1_400),
        CouncilTask(name: "ambiguity-handling", prompt: """
            A customer writes: "Make the export faster and also include the old data, like last time." \
            List every ambiguity in this request, the clarifying question you would ask for each, and \
            the assumption you would make if nobody answers before the deadline.
            """, maxTokens: 1_200),
        CouncilTask(name: "priority-summary", prompt: """
            Summarise these five incoming items in priority order with one sentence each and a reason \
            for the order: (1) the login page returns errors for 3% of users; (2) the CEO wants a new \
            chart in the weekly deck; (3) a dependency has a published critical vulnerability; (4) disk \
            usage on the database host is at 81% and growing 2% a day; (5) a typo on the pricing page.
            """, maxTokens: 1_200),
        CouncilTask(name: "business-strategy", prompt: """
            A 40-person company sells on-premise inventory software to small warehouses. Revenue is flat \
            and two competitors now offer cloud versions. Propose a two-year strategy: which customers to \
            focus on, what to build, how to price it, what to stop doing, and the three numbers the board \
            should watch every quarter.
            """, maxTokens: 1_600),
        CouncilTask(name: "docker-compose", prompt: """
            Write a complete docker-compose.yml for a web application with: a Python API service built \
            from ./api, a PostgreSQL 16 database with a named volume and a health check, Redis for caching, \
            an nginx reverse proxy on port 80 in front of the API, and environment variables read from a \
            .env file. Then explain each service in two sentences.
            """, maxTokens: 1_500),
        CouncilTask(name: "rag-design", prompt: """
            Design a retrieval-augmented generation system answering employee questions over 200,000 \
            internal documents (PDF, wiki pages, tickets) that change daily. Cover ingestion and chunking, \
            the embedding model and index, retrieval and re-ranking, access control per document, prompt \
            construction, evaluation, and how you would keep answers current. Give concrete numbers.
            """, maxTokens: 2_000),
        CouncilTask(name: "incident-json", prompt: """
            Extract every incident from this on-call log as a JSON array, one object per incident with             the keys "service" (string), "severity" ("low", "medium" or "high") and "minutes" (its             duration as an integer). Answer with the JSON only. Log: "02:10 payments API timeouts for 25             minutes, customers could not pay; 09:40 search results stale for 90 minutes; 13:05 the             internal wiki was slow for 10 minutes."
            """, maxTokens: 1_200),
    ]
}
