# Installs the CUDA add-on (run by `cmake --install` for component cuda; the variables are
# set by installer/CMakeLists.txt). What libtorch_cuda needs is found by the loader's own
# rules; what the NVIDIA libraries open at run time (cuDNN's engines, NVRTC's built-ins,
# NVSHMEM's bootstrap) is added by name, since no dependency scan can see it.
set(_torch_cuda_libs libtorch_cuda.so libc10_cuda.so libtorch_cuda_linalg.so libtorch_nvshmem.so libcaffe2_nvrtc.so)
set(_roots "")
foreach(lib IN LISTS _torch_cuda_libs)
  if(NOT EXISTS "${STUDIO_TORCH_LIB_DIR}/${lib}")
    message(FATAL_ERROR "CUDA add-on: ${STUDIO_TORCH_LIB_DIR}/${lib} is missing")
  endif()
  list(APPEND _roots "${STUDIO_TORCH_LIB_DIR}/${lib}")
endforeach()
string(REPLACE ":" ";" _dirs "${STUDIO_CUDA_ADDON_LIBDIRS}")
if(NOT _dirs)
  message(FATAL_ERROR "CUDA add-on: STUDIO_CUDA_ADDON_LIBDIRS names no folder of NVIDIA libraries")
endif()
file(GET_RUNTIME_DEPENDENCIES
  LIBRARIES ${_roots}
  RESOLVED_DEPENDENCIES_VAR _resolved
  UNRESOLVED_DEPENDENCIES_VAR _unresolved
  DIRECTORIES ${STUDIO_TORCH_LIB_DIR} ${_dirs}
  # The driver's own libraries come with the NVIDIA driver, never with an application.
  PRE_EXCLUDE_REGEXES "^ld-linux" "^lib(c|m|dl|rt|pthread|gcc_s|stdc\\+\\+)\\.so" "^libcuda\\.so" "^libnvidia-"
  POST_EXCLUDE_REGEXES "^/(usr/)?lib(32|64|x32)?/")
if(_unresolved)
  message(FATAL_ERROR "CUDA add-on: unresolved libraries: ${_unresolved}")
endif()
set(_files "")
foreach(f IN LISTS _roots _resolved)
  get_filename_component(name "${f}" NAME)
  # What the base package already ships (the CUDA runtime, CUPTI, LibTorch's CPU part, and
  # c10_cuda where the studio's own kernels link it) serves both: two packages must not
  # own one file.
  if(name MATCHES "${STUDIO_ADDON_SKIP_REGEX}")
    continue()
  endif()
  list(APPEND _files "${f}")
endforeach()
foreach(dir IN LISTS _dirs)
  file(GLOB _loaded_at_run_time "${dir}/libcudnn*.so.*" "${dir}/libnvrtc-builtins*.so*" "${dir}/nvshmem_bootstrap_*.so.*"
       "${dir}/libnvJitLink.so.*")
  list(APPEND _files ${_loaded_at_run_time})
endforeach()
list(REMOVE_DUPLICATES _files)
file(INSTALL ${_files} DESTINATION "${CMAKE_INSTALL_PREFIX}/${STUDIO_ADDON_DESTINATION}" FOLLOW_SYMLINK_CHAIN)
