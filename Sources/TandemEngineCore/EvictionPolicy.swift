/// Which cached-but-unreferenced block the pool reuses first when no free block is left.
///
/// "Recently used" means the last time a sequence acquired the block (allocation or prefix-cache
/// hit), as in SGLang's radix cache (`last_access_time`).
public enum EvictionPolicy: String, Sendable, Codable, CaseIterable {
    /// Leaves first: only blocks with no cached child are candidates, least recently used among
    /// them (SGLang-style radix eviction). A shared system prompt with cached continuations
    /// outlives them. Falls back to plain LRU only when every evictable block has a cached child
    /// (possible only through duplicate blocks).
    case prefixAware = "prefix_aware"
    /// Plain least-recently-used over every evictable block, for comparison in benchmarks.
    case lru
}
