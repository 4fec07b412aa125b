#include "core/device/host_memory_cache.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace studio {
namespace {

// Blocks below this size are not worth caching: the C library's allocator keeps those.
constexpr size_t kMinCachedBytes = 64 * 1024;

// One allocator for the process (torch keeps raw pointers to allocators); a cache object
// switches it on and off. Every pointer it hands out is its own context, so that raw
// allocations (oneDNN's scratch buffers) work through it too.
class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) override {
    c10::DataPtr block;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(n);
      if (it != free_.end() && !it->second.empty()) {
        block = std::move(it->second.back());
        it->second.pop_back();
        cached_bytes_ -= static_cast<int64_t>(n);
        ++reuses_;
      }
    }
    if (!block) {
      try {
        block = below_->allocate(n);
      } catch (const c10::OutOfMemoryError&) {
        release();  // what the cache holds may be what the request needs
        block = below_->allocate(n);
      }
    }
    void* ptr = block.get();
    if (!ptr) return {nullptr, nullptr, &deleteBlock, c10::Device(c10::kCPU)};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_.emplace(ptr, Live{std::move(block), n});
    }
    return {ptr, ptr, &deleteBlock, c10::Device(c10::kCPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &deleteBlock; }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }

  void free(void* ptr) {
    c10::DataPtr block;  // destroyed outside the lock when not kept
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(ptr);
    if (it == live_.end()) return;  // cannot happen: every pointer came from allocate()
    const size_t n = it->second.size;
    block = std::move(it->second.block);
    live_.erase(it);
    if (enabled_ && n >= kMinCachedBytes && cached_bytes_ + static_cast<int64_t>(n) <= max_cached_bytes_) {
      free_[n].push_back(std::move(block));
      cached_bytes_ += static_cast<int64_t>(n);
    }
  }

  void enable(c10::Allocator* below, int64_t max_cached_bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    below_ = below;
    max_cached_bytes_ = max_cached_bytes;
    enabled_ = true;
  }
  // Stops caching and hands back what is cached; live blocks go back as they are freed.
  void disable() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      enabled_ = false;
    }
    release();
  }
  void release() {
    std::unordered_map<size_t, std::vector<c10::DataPtr>> drop;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      drop.swap(free_);
      cached_bytes_ = 0;
    }
  }
  int64_t cachedBytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_bytes_;
  }
  int64_t reuses() {
    std::lock_guard<std::mutex> lock(mutex_);
    return reuses_;
  }

 private:
  struct Live {
    c10::DataPtr block;
    size_t size;
  };
  static void deleteBlock(void* ptr);

  std::mutex mutex_;
  c10::Allocator* below_ = nullptr;
  bool enabled_ = false;
  int64_t max_cached_bytes_ = 0, cached_bytes_ = 0, reuses_ = 0;
  std::unordered_map<void*, Live> live_;
  std::unordered_map<size_t, std::vector<c10::DataPtr>> free_;
};

CachingCpuAllocator& theAllocator() {
  static auto* allocator = new CachingCpuAllocator();  // never destroyed: tensors may outlive main
  return *allocator;
}

void CachingCpuAllocator::deleteBlock(void* ptr) { theAllocator().free(ptr); }

std::mutex g_install_mutex;
int g_depth = 0;

}  // namespace

HostMemoryCache::HostMemoryCache(int64_t max_cached_bytes) {
  std::lock_guard<std::mutex> lock(g_install_mutex);
  if (g_depth++ > 0) return;
  auto& cache = theAllocator();
  previous_ = c10::GetCPUAllocator();
  cache.enable(previous_, max_cached_bytes);
  c10::SetCPUAllocator(&cache);
  installed_ = &cache;
}

HostMemoryCache::~HostMemoryCache() {
  std::lock_guard<std::mutex> lock(g_install_mutex);
  --g_depth;
  if (!installed_) return;
  c10::SetCPUAllocator(previous_);
  theAllocator().disable();
}

int64_t HostMemoryCache::cachedBytes() { return theAllocator().cachedBytes(); }
int64_t HostMemoryCache::reuses() { return theAllocator().reuses(); }

}  // namespace studio
