add_test(NAME cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli.sh $<TARGET_FILE:kith>)
set_tests_properties(cli PROPERTIES TIMEOUT 120)
