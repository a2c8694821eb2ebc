# ntk_map.cmake — writes the linker version script of libntk.so from
# include/ntk.h: the functions it declares are global, everything else is
# local. -fvisibility=hidden with the header's `visibility push(default)`
# already gives that for ordinary functions; the version script also hides
# what visibility does not reach (GCC 12 exports the ifunc of a
# target_clones function whatever its visibility, and the lock of a named
# `omp critical` is a global common symbol).
#   cmake -DCC=<C compiler> -DHEADER=include/ntk.h -DOUT=ntk.map -P ntk_map.cmake
# The names are those followed by "(" in the preprocessed header (comments
# gone): the declared functions, not the function-pointer typedefs, whose
# name is followed by ")". tests/cli/install.sh checks the exported list
# against the compiler's own list of the header's declarations.
execute_process(COMMAND ${CC} -E -P -x c ${HEADER}
  OUTPUT_VARIABLE _pre RESULT_VARIABLE _rc ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "ntk_map.cmake: preprocessing ${HEADER} failed: ${_err}")
endif()
string(REGEX MATCHALL "ntk_[A-Za-z0-9_]+[ \t\r\n]*\\(" _decl "${_pre}")
set(_names "")
foreach(d ${_decl})
  string(REGEX REPLACE "[ \t\r\n(]" "" d "${d}")
  list(APPEND _names ${d})
endforeach()
list(REMOVE_DUPLICATES _names)
list(SORT _names)
list(LENGTH _names _n)
if(_n LESS 10)
  message(FATAL_ERROR "ntk_map.cmake: only ${_n} functions found in ${HEADER}")
endif()
set(_s "/* generated from ${HEADER} by cmake/ntk_map.cmake: ${_n} functions */\n{\n  global:\n")
foreach(n ${_names})
  string(APPEND _s "    ${n};\n")
endforeach()
string(APPEND _s "  local: *;\n};\n")
file(WRITE ${OUT}.tmp "${_s}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
file(REMOVE ${OUT}.tmp)
