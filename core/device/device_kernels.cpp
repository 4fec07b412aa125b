#include "core/device/device_kernels.h"

#include <atomic>
#include <mutex>

namespace studio {
namespace {

// Every registration is kept for the life of the process, so a pointer handed out stays
// valid even if a later registration replaces it.
std::mutex g_mutex;
std::vector<std::unique_ptr<const DeviceKernels>> g_registered;
std::atomic<const DeviceKernels*> g_current{nullptr};

}  // namespace

void registerDeviceKernels(DeviceKernels kernels) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_registered.push_back(std::make_unique<const DeviceKernels>(std::move(kernels)));
  g_current.store(g_registered.back().get());
}

const DeviceKernels* deviceKernels() { return g_current.load(); }

}  // namespace studio
