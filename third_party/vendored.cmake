# Dependencies from a vendored folder (scripts/vendor_deps.sh) instead of the system's packages:
# the same imported targets the packages' CMake configs define, pointing into MASH_DEPS_DIR. Used
# with -DMASH_DEPS_DIR=<folder> (the GPU machine has no Debian dev packages; see the README).
set(_v "${MASH_DEPS_DIR}")
if(NOT EXISTS "${_v}/MANIFEST.txt" OR NOT EXISTS "${_v}/include/eigen3/Eigen")
  message(FATAL_ERROR "MASH_DEPS_DIR=${_v}: not a vendored-dependency folder (expected the output of scripts/vendor_deps.sh)")
endif()
set(_vi "${_v}/include")
find_package(Threads REQUIRED)

function(_mash_vendored_header_lib target)
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_vi}")
endfunction()
function(_mash_vendored_shared_lib target soname)
  if(NOT EXISTS "${_v}/lib/${soname}")
    message(FATAL_ERROR "MASH_DEPS_DIR=${_v}: lib/${soname} is missing (expected the output of scripts/vendor_deps.sh)")
  endif()
  add_library(${target} SHARED IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION "${_v}/lib/${soname}" IMPORTED_SONAME "${soname}"
                        INTERFACE_INCLUDE_DIRECTORIES "${_vi}")
endfunction()

add_library(Eigen3::Eigen INTERFACE IMPORTED GLOBAL)
set_target_properties(Eigen3::Eigen PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_vi}/eigen3")
_mash_vendored_header_lib(nlohmann_json::nlohmann_json)
_mash_vendored_header_lib(CLI11::CLI11)
_mash_vendored_header_lib(Catch2::Catch2)
_mash_vendored_shared_lib(ZLIB::ZLIB libz.so.1)
_mash_vendored_shared_lib(yaml-cpp libyaml-cpp.so.0.7)
_mash_vendored_shared_lib(fmt::fmt libfmt.so.9)
set_target_properties(fmt::fmt PROPERTIES INTERFACE_COMPILE_DEFINITIONS FMT_SHARED)
_mash_vendored_shared_lib(spdlog::spdlog libspdlog.so.1.10)
set_target_properties(spdlog::spdlog PROPERTIES
  INTERFACE_COMPILE_DEFINITIONS "SPDLOG_SHARED_LIB;SPDLOG_COMPILED_LIB;SPDLOG_FMT_EXTERNAL"
  INTERFACE_LINK_LIBRARIES "Threads::Threads;fmt::fmt")
_mash_vendored_shared_lib(draco::draco libdraco.so.7)
set(MASH_TINYGLTF_INCLUDE "${_vi}" CACHE PATH "tiny_gltf.h folder" FORCE)
list(APPEND CMAKE_MODULE_PATH "${_v}/cmake")  # Catch.cmake (catch_discover_tests)
# Headers used without a target (nanoflann, gloo for distributed.cpp): the whole folder.
include_directories(SYSTEM "${_vi}")
foreach(_p Eigen3 nlohmann_json CLI11 Catch2 ZLIB yaml-cpp spdlog draco)
  set(${_p}_FOUND TRUE)
endforeach()
message(STATUS "mash: dependencies from ${_v} (vendored), not the system's packages")
