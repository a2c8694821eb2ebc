# ntk_install.cmake — installation, the CMake package, the pkg-config file
# and the exported symbols of libntk (included by the top CMakeLists.txt
# once the targets exist).
#
# Installed:
#   bin/ntk                        RUNPATH $ORIGIN/<bin→lib> + dependency dirs
#   lib/libntk.so.<soversion>      exports exactly the functions of ntk.h
#   lib/libntk.a
#   include/ntk.h
#   lib/pkgconfig/ntk.pc           relocatable (prefix from its own folder)
#   lib/cmake/ntk/                 find_package(ntk): ntk::ntk, ntk::ntk_static
# tests/cli/install.sh installs into a temporary prefix and checks all of it.
include(CMakePackageConfigHelpers)

# The header's version macros must be the project's version (ntk_version(),
# the .pc file and the CMake package version all come from it).
file(STRINGS ${CMAKE_SOURCE_DIR}/include/ntk.h _ntk_hver REGEX "^#define NTK_VERSION_STRING ")
string(REGEX REPLACE ".*\"(.*)\".*" "\\1" _ntk_hver "${_ntk_hver}")
if(NOT _ntk_hver STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "ntk: include/ntk.h says NTK_VERSION_STRING \"${_ntk_hver}\" but "
                      "CMakeLists.txt says project(ntk VERSION ${PROJECT_VERSION}): make them agree")
endif()

# Exported symbols: the library's objects are compiled with hidden
# visibility; ntk.h wraps its declarations in `#pragma GCC visibility
# push(default)`, so exactly the API is exported. A version script made
# from ntk.h (cmake/ntk_map.cmake) hides what visibility cannot reach.
set_target_properties(ntk_obj PROPERTIES C_VISIBILITY_PRESET hidden)
set(_ntk_map ${CMAKE_BINARY_DIR}/ntk.map)
add_custom_command(OUTPUT ${_ntk_map}
  COMMAND ${CMAKE_COMMAND} -DCC=${CMAKE_C_COMPILER} -DHEADER=${CMAKE_SOURCE_DIR}/include/ntk.h
          -DOUT=${_ntk_map} -P ${CMAKE_SOURCE_DIR}/cmake/ntk_map.cmake
  DEPENDS ${CMAKE_SOURCE_DIR}/include/ntk.h ${CMAKE_SOURCE_DIR}/cmake/ntk_map.cmake
  COMMENT "ntk: version script of libntk.so from include/ntk.h")
add_custom_target(ntk_map DEPENDS ${_ntk_map})
add_dependencies(ntk_shared ntk_map)
target_link_options(ntk_shared PRIVATE "LINKER:--version-script=${_ntk_map}")
set_property(TARGET ntk_shared APPEND PROPERTY LINK_DEPENDS ${_ntk_map})

# Same names inside a build tree (add_subdirectory, FetchContent) as from
# the installed package.
add_library(ntk::ntk ALIAS ntk_shared)
add_library(ntk::ntk_static ALIAS ntk_static)
set_target_properties(ntk_shared PROPERTIES EXPORT_NAME ntk)
set_target_properties(ntk_static PROPERTIES EXPORT_NAME ntk_static)

# Run without LD_LIBRARY_PATH from any prefix: the program finds lib/
# relative to its own folder; CMAKE_INSTALL_RPATH_USE_LINK_PATH adds the
# folders of the dependencies outside the system's (OpenBLAS's OpenMP build).
file(RELATIVE_PATH _ntk_bin_to_lib "${CMAKE_INSTALL_FULL_BINDIR}" "${CMAKE_INSTALL_FULL_LIBDIR}")
set_property(TARGET ntk APPEND PROPERTY INSTALL_RPATH "$ORIGIN/${_ntk_bin_to_lib}")

install(TARGETS ntk RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ntk_static ntk_shared EXPORT ntkTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES include/ntk.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# The CMake package: ntkTargets.cmake (the two libraries), ntkConfig.cmake
# (finds the dependencies, then includes the targets), and the version file
# (0.x: any 0.1.y satisfies find_package(ntk 0.1); 0.2 would not).
set(_ntk_cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/ntk)
get_filename_component(NTK_CONFIG_BLAS_DIR ${OPENBLAS_LIB} DIRECTORY)
get_filename_component(NTK_CONFIG_LAPACKE_DIR ${LAPACKE_LIB} DIRECTORY)
set(NTK_CONFIG_SLEEF_DIR "")
set(NTK_CONFIG_SLEEF_NOTE "")
if(NTK_SLEEF)
  get_filename_component(NTK_CONFIG_SLEEF_DIR ${SLEEF_LIB} DIRECTORY)
  set(NTK_CONFIG_SLEEF_NOTE ", SLEEF")
endif()
if(NTK_OPENMP)
  set(NTK_CONFIG_BLAS_KIND "its OpenMP build")
  set(NTK_CONFIG_OPENMP_NOTE " and OpenMP")
else()
  set(NTK_CONFIG_BLAS_KIND "any build")
  set(NTK_CONFIG_OPENMP_NOTE "")
endif()
install(EXPORT ntkTargets NAMESPACE ntk:: DESTINATION ${_ntk_cmakedir})
configure_package_config_file(cmake/ntkConfig.cmake.in ${CMAKE_BINARY_DIR}/ntkConfig.cmake
  INSTALL_DESTINATION ${_ntk_cmakedir})
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_ntk_compat SameMinorVersion)
else()
  set(_ntk_compat SameMajorVersion)
endif()
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ntkConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${_ntk_compat})
install(FILES ${CMAKE_BINARY_DIR}/ntkConfig.cmake ${CMAKE_BINARY_DIR}/ntkConfigVersion.cmake
  DESTINATION ${_ntk_cmakedir})

# pkg-config: relocatable (the prefix is found from the .pc file's own
# folder); Libs carries an rpath to libdir so that programs linked with
# `pkg-config --libs ntk` run without LD_LIBRARY_PATH from any prefix.
set(NTK_PC_BLAS_DIR ${NTK_CONFIG_BLAS_DIR})
set(NTK_PC_OPENMP "")
if(NTK_OPENMP)
  set(NTK_PC_OPENMP "-fopenmp")
endif()
file(RELATIVE_PATH NTK_PC_UP "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" NTK_PC_UP "${NTK_PC_UP}")
configure_file(ntk.pc.in ntk.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/ntk.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
