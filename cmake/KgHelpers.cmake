# kg_library(NAME folder SRCS ... DEPS ...): one library per folder, kg_<name> with alias
# kg::<name>; headers are included by path from the repository root.
function(kg_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(kg_${name} STATIC ${ARG_SRCS})
  add_library(kg::${name} ALIAS kg_${name})
  target_include_directories(kg_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(kg_${name} PUBLIC ${ARG_DEPS})
endfunction()

# kg_test(NAME SRCS ... DEPS ...): one GoogleTest executable registered with CTest.
function(kg_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  add_test(NAME ${name} COMMAND ${name})
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
