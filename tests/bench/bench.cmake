# Benchmarks: built with everything else and run by hand (docs/benchmarks.md
# gives the commands and figures). ctest runs only a tiny smoke pass of each
# so they keep building and working.
add_executable(bench_records bench/records.c)
target_link_libraries(bench_records PRIVATE kith_store)
add_test(NAME bench_records_smoke COMMAND bench_records -n 200 -t 1 -b 50 -a 3)
set_tests_properties(bench_records_smoke PROPERTIES TIMEOUT 60
	ENVIRONMENT "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")

# kith against serf (bench/gossip.py): the smoke pass forms a cluster of 4
# agents of each system and takes one of each measurement; it checks that
# the benchmark works and never judges a timing. RUN_SERIAL: timings and
# ports of concurrent tests would disturb each other.
add_test(NAME bench_gossip_smoke
	COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/bench/gossip.py --smoke)
set_tests_properties(bench_gossip_smoke PROPERTIES TIMEOUT 90 RUN_SERIAL TRUE
	ENVIRONMENT "KITH=$<TARGET_FILE:kith>;KITHD=$<TARGET_FILE:kithd>;PYTHONDONTWRITEBYTECODE=1")

# One agent checking 1000 local HTTP services (bench/checks.py); bench_httpd
# plays the services, one URL path each. The smoke pass runs 2 owners of
# 20 services for a few seconds and judges no timing.
add_executable(bench_httpd bench/httpd.c)
add_test(NAME bench_checks_smoke
	COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/bench/checks.py --smoke)
set_tests_properties(bench_checks_smoke PROPERTIES TIMEOUT 90 RUN_SERIAL TRUE
	ENVIRONMENT "KITH=$<TARGET_FILE:kith>;KITHD=$<TARGET_FILE:kithd>;BENCH_HTTPD=$<TARGET_FILE:bench_httpd>;PYTHONDONTWRITEBYTECODE=1")
# The backup primitives, each against its limit (bench/chunker.c,
# erasure.c, seal.c: MB/s, with memcpy, zstd and XChaCha20-Poly1305 alone
# in the same run); the smoke passes run them on a few MiB once.
add_executable(bench_chunker bench/chunker.c)
target_link_libraries(bench_chunker PRIVATE kith_backup)
add_test(NAME bench_chunker_smoke COMMAND bench_chunker -m 4)
add_test(NAME bench_chunker_sweep_smoke COMMAND bench_chunker --sweep -m 2 -s 1)
add_executable(bench_erasure bench/erasure.c)
target_link_libraries(bench_erasure PRIVATE kith_backup)
add_test(NAME bench_erasure_smoke COMMAND bench_erasure -n 8 -t 1)
add_executable(bench_seal bench/seal.c)
target_link_libraries(bench_seal PRIVATE kith_backup)
add_test(NAME bench_seal_smoke COMMAND bench_seal -m 2 -r 1)
set_tests_properties(bench_chunker_smoke bench_chunker_sweep_smoke bench_erasure_smoke
	bench_seal_smoke PROPERTIES TIMEOUT 60
	ENVIRONMENT "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
# A holder receiving a shard in pieces (bench/shardfile.c): MB/s against
# plain write() + fsync(), and the longest time the loop was held.
add_executable(bench_shardfile bench/shardfile.c)
target_link_libraries(bench_shardfile PRIVATE kith_agent_backup)
add_test(NAME bench_shardfile_smoke COMMAND bench_shardfile -m 8 -r 1)
set_tests_properties(bench_shardfile_smoke PROPERTIES TIMEOUT 60
	ENVIRONMENT "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
# kith backup against restic and borg (bench/backup): the smoke pass backs
# up two 8 MiB inputs with each of them that is installed (restic and borg
# are skipped when missing) and judges no timing.
add_test(NAME bench_backup_smoke
	COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/bench/backup --smoke)
set_tests_properties(bench_backup_smoke PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
	ENVIRONMENT "KITH=$<TARGET_FILE:kith>;KITHD=$<TARGET_FILE:kithd>;PYTHONDONTWRITEBYTECODE=1")
