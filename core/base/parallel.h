#pragma once
// A minimal fork-join loop for the engine's hot CPU loops (t-SNE, neighbour graphs): plain
// std::threads, no torch dependency, and results that never depend on the schedule because
// every index is written by exactly one worker.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

namespace studio {

// Runs body(begin, end) over [0, n) in blocks of `grain` handed out to up to `threads`
// workers (the calling thread is one of them). Reductions belong to the caller, afterwards
// and in index order, so that results do not depend on the thread count.
template <class Body>
void parallelBlocks(int64_t n, int64_t threads, int64_t grain, const Body& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t blocks = (n + grain - 1) / grain;
  const int64_t workers = std::min(threads, blocks);
  if (workers <= 1) {
    body(int64_t{0}, n);
    return;
  }
  std::atomic<int64_t> next{0};
  const auto work = [&]() {
    for (;;) {
      const int64_t b = next.fetch_add(1);
      if (b >= blocks) return;
      body(b * grain, std::min(n, (b + 1) * grain));
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(workers - 1));
  for (int64_t t = 1; t < workers; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // the system refused a thread: the ones we have finish the work
    }
  }
  work();
  for (auto& thread : pool) thread.join();
}

// Runs body(worker) once on each of `workers` threads (the caller runs worker 0): for work
// split into fixed per-worker ranges that the caller computed.
template <class Body>
void parallelWorkers(int64_t workers, const Body& body) {
  if (workers <= 1) {
    body(int64_t{0});
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(workers - 1));
  int64_t started = 1;
  for (int64_t t = 1; t < workers; ++t) {
    try {
      pool.emplace_back([&body, t] { body(t); });
      ++started;
    } catch (const std::system_error&) {
      break;
    }
  }
  // Workers the system refused to start run here, one after the other.
  body(int64_t{0});
  for (int64_t t = started; t < workers; ++t) body(t);
  for (auto& thread : pool) thread.join();
}

}  // namespace studio
