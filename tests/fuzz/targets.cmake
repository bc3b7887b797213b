# Fuzz targets: one per decoder, built by kith_fuzz_target() (see
# tests/CMakeLists.txt): libFuzzer binaries with KITH_FUZZ, otherwise
# programs that replay corpus/<name> under ctest. fuzz_seeds writes that
# seed corpus; it has its own main() and is never linked with libFuzzer.
# Each target has a libFuzzer dictionary, dict/<name>.dict, that tools/fuzz
# passes with -dict=; fuzz_dicts checks they exist and parse.
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
kith_fuzz_target(conf kith_conf)
kith_fuzz_target(ctl kith_proto)
kith_fuzz_target(token kith_proto)
kith_fuzz_target(join kith_proto)
kith_fuzz_target(request kith_proto)
kith_fuzz_target(ops kith_proto)
kith_fuzz_target(seal kith_backup)
kith_fuzz_target(pack kith_backup)
kith_fuzz_target(snapshot kith_backup)
kith_fuzz_target(kit kith_proto)
kith_fuzz_target(dns_change kith_proto)
kith_fuzz_target(dns_cred kith_dns)
kith_fuzz_target(dns_reply kith_dns)
kith_fuzz_target(dns_pdns kith_dns)
kith_fuzz_target(dns_desec kith_dns)

add_executable(fuzz_seeds fuzz/seeds.c)
target_link_libraries(fuzz_seeds PRIVATE kith_proto kith_backup kith_dns)
add_test(NAME fuzz_seeds COMMAND fuzz_seeds ${CMAKE_CURRENT_BINARY_DIR}/corpus)
set_tests_properties(fuzz_seeds PROPERTIES FIXTURES_SETUP fuzz_seeds TIMEOUT 60
	ENVIRONMENT "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")

get_property(kith_fuzz_names GLOBAL PROPERTY KITH_FUZZ_TARGETS)
add_test(NAME fuzz_dicts COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/check_dicts.sh
	${CMAKE_CURRENT_SOURCE_DIR}/fuzz/dict ${kith_fuzz_names})
set_tests_properties(fuzz_dicts PROPERTIES TIMEOUT 30)
