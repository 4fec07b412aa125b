#pragma once
// A cache in front of torch's CPU allocator for the length of a training run. A step
// allocates and frees the same large buffers every time (activations, gradients); without a
// cache each one goes back to the operating system and comes back as fresh zeroed pages,
// which costs page faults on every touch. With it, a freed buffer waits for the next
// request of the same size. Memory returns to the allocator below when the cache goes away.
#include <cstdint>

namespace c10 {
struct Allocator;
}

namespace studio {

class HostMemoryCache {
 public:
  // Installs the cache as torch's CPU allocator, in front of whichever was installed.
  // Nested caches share the first. max_cached_bytes bounds the memory kept for reuse.
  explicit HostMemoryCache(int64_t max_cached_bytes = int64_t(4) << 30);
  ~HostMemoryCache();
  HostMemoryCache(const HostMemoryCache&) = delete;
  HostMemoryCache& operator=(const HostMemoryCache&) = delete;

  // Bytes waiting for reuse now, and requests served from the cache so far (tests).
  static int64_t cachedBytes();
  static int64_t reuses();

 private:
  c10::Allocator* installed_ = nullptr;  // what this object installed (null when nested)
  c10::Allocator* previous_ = nullptr;
};

}  // namespace studio
