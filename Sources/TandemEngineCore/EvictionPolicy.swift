/// Which cached-but-unreferenced block the pool reuses first when no free block is left.
///
/// Both policies order blocks by when they were last in use: the tick at which a block's last
/// reference was released (a block is in use, and read by attention, for as long as a sequence
/// holds it; vLLM's free-block queue is likewise ordered by when blocks were freed). A sequence's
/// blocks released together get consecutive ticks in table order, so its first block counts as
/// the least recently used of them. A prefix-cache hit takes a block out of the candidates until
/// it is released again.
///
/// Where they differ: plain LRU therefore evicts a finished chain from its root, which makes the
/// rest of the chain unreachable at once; prefix-aware takes only leaves, so a chain shrinks from
/// its end. With G prompts of S blocks served round robin, one request at a time, each request
/// adding F full blocks of its own plus p partial ones (0 or 1), a pool of C blocks with
/// (G-1)(S+F) + S + p <= C < G(S+F) + p keeps every prompt whole under prefix-aware and none
/// under LRU: the prompt served next is always the least recently used one (cyclic access), and
/// LRU takes its root, the oldest block of its request, while prefix-aware first gives up the
/// questions' tails. `EvictionTests` replays this on the pool; `bench/prefix_cache.py` part b on
/// the real server.
///
/// vLLM's LRU is not this plain LRU: it frees a request's blocks in reverse order "so that the
/// tail blocks are evicted first" (`KVCacheManager.free`). With that tie rule no cached block is
/// older than its cached children (short of duplicate blocks), so the least recently used block
/// is always a leaf and vLLM's LRU picks the same victims as `prefixAware` (its prefix-caching
/// RFC, vllm-project/vllm#2614, notes that LRU with ties to the longer prefix gives
/// RadixAttention's policy). Tandem's `lru` stays blind to chains so the comparison shows what
/// leaf-first order buys.
public enum EvictionPolicy: String, Sendable, Codable, CaseIterable {
    /// Leaves first: only blocks with no cached child are candidates, least recently used among
    /// them (SGLang-style radix eviction). A shared system prompt with cached continuations
    /// outlives them. Falls back to plain LRU only when every evictable block has a cached child
    /// (possible only through duplicate blocks).
    case prefixAware = "prefix_aware"
    /// Plain least-recently-used over every evictable block, blind to chains (ties between blocks
    /// released together go to the one nearer the start of its sequence), for comparison.
    case lru
}
