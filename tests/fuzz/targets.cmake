# Fuzz targets: one per decoder, built by kith_fuzz_target() (see
# tests/CMakeLists.txt): libFuzzer binaries with KITH_FUZZ, otherwise
# programs that replay corpus/<name> under ctest. fuzz_seeds writes that
# seed corpus; it has its own main() and is never linked with libFuzzer.
kith_fuzz_target(record kith_proto)
kith_fuzz_target(member kith_proto)
kith_fuzz_target(service kith_proto)
kith_fuzz_target(service_record kith_proto)
kith_fuzz_target(observation kith_proto)
kith_fuzz_target(grant kith_proto)
kith_fuzz_target(revocation kith_proto)
kith_fuzz_target(admission kith_proto)
kith_fuzz_target(scope kith_proto)
kith_fuzz_target(peerid kith_proto)
kith_fuzz_target(probe kith_proto)
kith_fuzz_target(sync kith_proto)
kith_fuzz_target(records kith_proto)
kith_fuzz_target(conf kith_agent)
kith_fuzz_target(ctl kith_agent)
kith_fuzz_target(token kith_proto)
kith_fuzz_target(join kith_proto)
kith_fuzz_target(request kith_proto)
kith_fuzz_target(ops kith_proto)

add_executable(fuzz_seeds fuzz/seeds.c)
target_link_libraries(fuzz_seeds PRIVATE kith_proto)
add_test(NAME fuzz_seeds COMMAND fuzz_seeds ${CMAKE_CURRENT_BINARY_DIR}/corpus)
set_tests_properties(fuzz_seeds PROPERTIES FIXTURES_SETUP fuzz_seeds TIMEOUT 60
	ENVIRONMENT "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
