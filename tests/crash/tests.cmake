# Crash tests: a writer killed with SIGKILL at random moments must lose
# nothing it acknowledged. KITH_CRASH_SEED=N replays a run.
add_executable(crash_store crash/crash_store.c)
target_link_libraries(crash_store PRIVATE kith_store)
add_test(NAME crash_store COMMAND crash_store)
set_tests_properties(crash_store PROPERTIES TIMEOUT 120
	ENVIRONMENT "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
add_executable(crash_shardfile crash/crash_shardfile.c)
target_link_libraries(crash_shardfile PRIVATE kith_agent_backup)
add_test(NAME crash_shardfile COMMAND crash_shardfile)
set_tests_properties(crash_shardfile PROPERTIES TIMEOUT 120
	ENVIRONMENT "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
