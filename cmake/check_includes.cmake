# check_includes.cmake -- run by the build (target stele_include_check) before any layer compiles.
# Each layer compiles against its view of src/ (build/layers/<layer>/), which refuses an include of
# a layer above it; but a quoted include is looked for first beside the including file, so
# `#include "../store/store.h"` would get past a view. This refuses every include that climbs out
# of its directory, in src/ and include/.
#   cmake -DSTELE_SOURCE_DIR=<repo> -P cmake/check_includes.cmake
file(GLOB_RECURSE files ${STELE_SOURCE_DIR}/src/*.c ${STELE_SOURCE_DIR}/src/*.h
     ${STELE_SOURCE_DIR}/include/*.h)
set(bad "")
foreach(f ${files})
  file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<][^\">]*\\.\\./")
  foreach(line ${lines})
    file(RELATIVE_PATH rel ${STELE_SOURCE_DIR} ${f})
    list(APPEND bad "${rel}: ${line}")
  endforeach()
endforeach()
if(bad)
  list(JOIN bad "\n  " text)
  message(FATAL_ERROR "includes that leave their directory (use the layer path, e.g. "
                      "\"log/record.h\", and only layers below; docs/design/build.md):\n  ${text}")
endif()
