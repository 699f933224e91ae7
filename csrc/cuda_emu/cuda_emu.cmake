# libcenternet_fast_cuda_emu: the CUDA sources of csrc/cuda (kernels and their host code, as the
# GPU build compiles them) built with the host compiler against the CPU emulation in this folder,
# so that tests run every CUDA kernel on CPU tensors as torch.ops.centernet_fast_cuda_emu.*.
# The rest of csrc is compiled in too, for the argument checks the CUDA registrations share; the
# torch/library.h shim moves all registrations out of the centernet_fast namespace.
#   -DCENTERNET_FAST_CUDA_EMU_SANITIZE=address|undefined|thread   kernels under a sanitizer

find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(CENTERNET_FAST_CUDA_EMU_SANITIZE "" CACHE STRING
    "Sanitizer for the emulated CUDA kernels: address, undefined or thread")
set(EMU_DIR ${CMAKE_CURRENT_SOURCE_DIR}/csrc/cuda_emu)
set(EMU_GEN ${CMAKE_CURRENT_BINARY_DIR}/cuda_emu)
file(MAKE_DIRECTORY ${EMU_GEN})

file(GLOB EMU_CU CONFIGURE_DEPENDS csrc/cuda/*.cu ${EMU_DIR}/*.cu)
set(EMU_KERNELS)
foreach(cu ${EMU_CU})
  get_filename_component(stem ${cu} NAME_WE)
  set(out ${EMU_GEN}/${stem}.cu.cpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${Python3_EXECUTABLE} ${EMU_DIR}/cu2cpp.py ${cu} ${out}
    DEPENDS ${cu} ${EMU_DIR}/cu2cpp.py
    COMMENT "cu2cpp ${stem}.cu")
  list(APPEND EMU_KERNELS ${out})
endforeach()

file(GLOB EMU_HOST CONFIGURE_DEPENDS csrc/*.cpp csrc/cpu/*.cpp csrc/cuda/*.cpp ${EMU_DIR}/*.cpp)
list(REMOVE_ITEM EMU_HOST ${CMAKE_CURRENT_SOURCE_DIR}/csrc/python_module.cpp
     ${EMU_DIR}/cuda_emu_runtime.cpp)

add_library(centernet_fast_cuda_emu SHARED ${EMU_HOST} ${EMU_KERNELS} ${EMU_DIR}/cuda_emu_runtime.cpp)
# The shims (cuda_runtime.h, c10/cuda, torch/library.h) come before torch's own headers.
target_include_directories(centernet_fast_cuda_emu BEFORE PRIVATE ${EMU_DIR}/include)
target_include_directories(centernet_fast_cuda_emu PRIVATE csrc)
target_link_libraries(centernet_fast_cuda_emu PRIVATE ${TORCH_LIBRARIES})
if(OpenMP_CXX_FOUND)
  target_link_libraries(centernet_fast_cuda_emu PRIVATE OpenMP::OpenMP_CXX)
endif()
# Hidden symbols: the library is loaded beside centernet_fast._C, which defines the same ones.
set_target_properties(centernet_fast_cuda_emu PROPERTIES
                      CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
target_compile_options(centernet_fast_cuda_emu PRIVATE -ffp-contract=off -fno-trapping-math)
# Kernel units compile as nvcc's device pass sees them (sm_80: the __match_any_sync and __*_rn
# paths), with the device language force-included as nvcc includes cuda_runtime.h.
set_source_files_properties(${EMU_KERNELS} PROPERTIES
  COMPILE_DEFINITIONS "__CUDACC__;__CUDA_ARCH__=800"
  COMPILE_OPTIONS "-include;${EMU_DIR}/cuda_emu.h;-Wno-unknown-pragmas")

set(EMU_SAN "${CENTERNET_FAST_CUDA_EMU_SANITIZE}")
if(EMU_SAN STREQUAL "address" OR EMU_SAN STREQUAL "undefined")
  set(flags -fsanitize=${EMU_SAN} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_compile_options(centernet_fast_cuda_emu PRIVATE ${flags})
  target_link_options(centernet_fast_cuda_emu PRIVATE -fsanitize=${EMU_SAN})
elseif(EMU_SAN STREQUAL "thread")
  # Only the kernels are instrumented: the runtime is the emulated hardware, and its fiber
  # switches must not look like synchronisation (cuda_emu_runtime.cpp).
  set_property(SOURCE ${EMU_KERNELS} APPEND PROPERTY COMPILE_OPTIONS -fsanitize=thread)
  set_property(SOURCE ${EMU_DIR}/cuda_emu_runtime.cpp APPEND PROPERTY COMPILE_DEFINITIONS CNF_EMU_TSAN)
  target_link_options(centernet_fast_cuda_emu PRIVATE -fsanitize=thread)
elseif(NOT EMU_SAN STREQUAL "")
  message(FATAL_ERROR "CENTERNET_FAST_CUDA_EMU_SANITIZE must be address, undefined, thread or empty")
endif()
