# Finds LibTorch (the C++ distribution inside the PyPI torch wheel) and defines
# studio::torch, the one target the project links for it.
#
# The wheel is a CUDA build. libtorch_cuda.so needs cuSPARSELt, cuFile and NVSHMEM, which
# a machine with only the CUDA toolkit lacks; linking it there would make every program
# fail to start. So studio::torch carries CUDA only when all of libtorch_cuda's
# dependencies resolve (a GPU machine with PyTorch installed), and is CPU-only otherwise.
# Torch's CMake adds the CUDA architecture flags itself (from TORCH_CUDA_ARCH_LIST, and
# ignoring CMAKE_CUDA_ARCHITECTURES); its default list starts at sm_50, which CUDA 13
# no longer supports. Ampere, Ada and Hopper (H100/H200), plus PTX for newer parts.
if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(TORCH_CUDA_ARCH_LIST "8.0;8.6;8.9;9.0+PTX")
endif()
find_package(Torch REQUIRED)

set(STUDIO_TORCH_LIB_DIR "${TORCH_INSTALL_PREFIX}/lib")
set(STUDIO_TORCH_HAS_CUDA OFF)
if(TARGET torch_cuda AND EXISTS "${STUDIO_TORCH_LIB_DIR}/libtorch_cuda.so")
  execute_process(COMMAND ldd "${STUDIO_TORCH_LIB_DIR}/libtorch_cuda.so"
                  OUTPUT_VARIABLE _ldd_out ERROR_QUIET RESULT_VARIABLE _ldd_rc)
  if(_ldd_rc EQUAL 0 AND NOT _ldd_out MATCHES "not found")
    set(STUDIO_TORCH_HAS_CUDA ON)
  else()
    string(REGEX MATCHALL "[^\n\t ]+ => not found" _missing "${_ldd_out}")
    message(STATUS "LibTorch CUDA runtime unusable here (${_missing}): linking the CPU libraries only")
  endif()
endif()

add_library(studio_torch INTERFACE)
add_library(studio::torch ALIAS studio_torch)
if(STUDIO_TORCH_HAS_CUDA)
  # --no-as-needed keeps libtorch_cuda loaded so its CUDA hooks register.
  target_link_libraries(studio_torch INTERFACE torch "-Wl,--no-as-needed,${STUDIO_TORCH_LIB_DIR}/libtorch_cuda.so,--as-needed")
else()
  target_link_libraries(studio_torch INTERFACE torch_cpu c10)
  target_include_directories(studio_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
endif()
# The wheel's libtorch.so and libtorch_cpu.so export their own copies of std::filesystem
# (remove_all, create_directories, filesystem_error...), built with the wheel's compiler.
# Listed before libstdc++ among a program's libraries, they interpose libstdc++'s for every
# caller: on Ubuntu 24.04 (GCC 13) the wheel's remove_all called through a null pointer and
# killed studio-bench. libstdc++ named first on the link line comes first in the lookup order.
target_link_options(studio_torch INTERFACE "SHELL:-Wl,--push-state,--no-as-needed -lstdc++ -Wl,--pop-state")
# A compiler without a shared libstdc++ (the GPU machine's /opt/gcc has a dangling
# libstdc++.so) links the static archive instead: the program's std::filesystem calls then
# still bind to the wheel's copies and two C++ runtimes share one process. Refuse it by name.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libstdc++.so
                  OUTPUT_VARIABLE _shared_libstdcxx OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT IS_ABSOLUTE "${_shared_libstdcxx}" OR NOT EXISTS "${_shared_libstdcxx}")
    message(FATAL_ERROR "${CMAKE_CXX_COMPILER} finds no shared libstdc++ (libstdc++.so is missing or a broken link), "
                        "so it would link libstdc++ statically beside LibTorch's shared one. "
                        "Configure with another compiler, e.g. CXX=/usr/bin/g++ (./studio gpu-check does this itself).")
  endif()
endif()
target_compile_definitions(studio_torch INTERFACE STUDIO_TORCH_HAS_CUDA=$<BOOL:${STUDIO_TORCH_HAS_CUDA}>)
message(STATUS "LibTorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX}; CUDA runtime linked: ${STUDIO_TORCH_HAS_CUDA}")

# One precompiled header for everything that includes torch, built once (on studio_data, the
# first room of core that includes torch) and reused by every other target: compiling <torch/torch.h> costs ~45 s, and even loading
# it ~7 s per translation unit on a 2-core machine, so files that do not include torch skip
# it (studio_skip_torch_pch). Reuse needs the same code-generation flags as the owner's:
# -fPIC (for executables too; GCC refuses a header precompiled with other -f flags).
#   studio_torch_pch(TARGET [FROM OWNER])   OWNER (default studio_data) builds the header;
#                                           TARGET == OWNER creates it, others reuse it.
function(studio_torch_pch target)
  cmake_parse_arguments(P "" "FROM" "" ${ARGN})
  if(NOT P_FROM)
    set(P_FROM studio_data)
  endif()
  if(target STREQUAL P_FROM)
    target_precompile_headers(${target} PRIVATE <torch/torch.h> <nlohmann/json.hpp> <string> <vector> <memory>)
  else()
    target_precompile_headers(${target} REUSE_FROM ${P_FROM})
    # A refused header would be parsed as text, silently 4x slower: make that an error.
    target_compile_options(${target} PRIVATE -fPIC -Werror=invalid-pch)
  endif()
endfunction()

# Sources of a torch target that include no torch header: loading the precompiled header
# would cost them more than they compile.
function(studio_skip_torch_pch)
  set_source_files_properties(${ARGN} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
endfunction()
