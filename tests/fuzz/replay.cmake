# replay.cmake -- the fuzz targets as ordinary tests: each tests/fuzz/fuzz_<name>.c is linked with
# replay_main.c (a main() that feeds files to LLVMFuzzerTestOneInput) in the normal build, whatever
# the compiler, and ctest runs it over the seed corpus and every kept crash input:
#
#   fuzz/<name>  =  fuzz_replay_<name> tests/fuzz/corpus/<name> tests/fuzz/regressions/<name>
#
# Included from tests/CMakeLists.txt (after stele_test_common is defined):
#   include(${CMAKE_CURRENT_SOURCE_DIR}/fuzz/replay.cmake)
# Fuzzing itself (libFuzzer, clang only) is scripts/fuzz.sh; see docs/reliability.md.
set(STELE_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
set(STELE_FUZZ_TARGETS record segment json time uuid ndjson snapshot index http_request body)
if(NOT TARGET PkgConfig::LIBEVENT)
  pkg_check_modules(LIBEVENT REQUIRED IMPORTED_TARGET libevent)
endif()

foreach(name ${STELE_FUZZ_TARGETS})
  set(sources ${STELE_FUZZ_DIR}/fuzz_${name}.c ${STELE_FUZZ_DIR}/fuzz_util.c
              ${STELE_FUZZ_DIR}/replay_main.c)
  if(name STREQUAL "ndjson")
    # The CLI's line parser and the messages it prints (cli/event_in.c, cli/output.c).
    list(APPEND sources ${CMAKE_SOURCE_DIR}/cli/event_in.c ${CMAKE_SOURCE_DIR}/cli/output.c
         ${CMAKE_SOURCE_DIR}/common/json_scan.c ${CMAKE_SOURCE_DIR}/common/base64.c
         ${CMAKE_SOURCE_DIR}/common/info_json.c ${CMAKE_SOURCE_DIR}/common/json_out.c
         ${CMAKE_SOURCE_DIR}/common/error_map.c)
  endif()
  if(name STREQUAL "json")
    # What the programs write back (common/json_out.c).
    list(APPEND sources ${CMAKE_SOURCE_DIR}/common/json_out.c ${CMAKE_SOURCE_DIR}/common/base64.c)
  endif()
  set(libs "")
  if(name STREQUAL "http_request")
    # steled's request parser (server/http/request.c), which reads from libevent's buffers.
    list(APPEND sources ${CMAKE_SOURCE_DIR}/server/http/request.c)
    list(APPEND libs PkgConfig::LIBEVENT)
  endif()
  if(name STREQUAL "body")
    # steled's two append-body readers (server/http/body_fast.c, server/http/json_io.c) and what
    # they use;
    # json_io.c also writes answers into libevent's buffers.
    list(APPEND sources ${CMAKE_SOURCE_DIR}/server/http/body_fast.c
         ${CMAKE_SOURCE_DIR}/server/http/json_io.c
         ${CMAKE_SOURCE_DIR}/common/json_scan.c ${CMAKE_SOURCE_DIR}/common/json_out.c
         ${CMAKE_SOURCE_DIR}/common/base64.c ${CMAKE_SOURCE_DIR}/common/info_json.c)
    list(APPEND libs PkgConfig::LIBEVENT)
  endif()
  add_executable(fuzz_replay_${name} ${sources})
  set_target_properties(fuzz_replay_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${STELE_TEST_BIN})
  target_link_libraries(fuzz_replay_${name} PRIVATE stele_test_support PkgConfig::JANSSON ${libs})
  target_include_directories(fuzz_replay_${name} PRIVATE ${CMAKE_SOURCE_DIR}/common)
  add_test(NAME fuzz/${name}
           COMMAND fuzz_replay_${name} ${STELE_FUZZ_DIR}/corpus/${name}
                   ${STELE_FUZZ_DIR}/regressions/${name})
  set_tests_properties(fuzz/${name} PROPERTIES
    ENVIRONMENT "TMPDIR=${CMAKE_BINARY_DIR}/test-tmp;${STELE_TEST_ENV}"
    SKIP_RETURN_CODE ${STELE_SKIP_EXIT} LABELS fuzz TIMEOUT 300)
endforeach()
