# Benchmarks: built with everything else and run by hand (docs/benchmarks.md
# gives the commands and figures). ctest runs only a tiny smoke pass of each
# so they keep building and working.
add_executable(bench_records bench/records.c)
target_link_libraries(bench_records PRIVATE kith_store)
add_test(NAME bench_records_smoke COMMAND bench_records -n 200 -t 1 -b 50 -a 3)
set_tests_properties(bench_records_smoke PROPERTIES TIMEOUT 60
	ENVIRONMENT "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
