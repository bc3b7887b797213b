add_test(NAME cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli.sh $<TARGET_FILE:kith>)
set_tests_properties(cli PROPERTIES TIMEOUT 120)

# A misbehaving peer for the hostile-input tests.
add_executable(kith_rogue integration/rogue.c)
target_link_libraries(kith_rogue PRIVATE kith_proto kith::zmq)

# Python tests that start real kithd processes on 127.0.0.1. They run one
# at a time (RUN_SERIAL): each starts several agents with tight timings.
foreach(name federation hostile trust monitor partition backup dns)
	add_test(NAME it_${name}
		COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_${name}.py)
	set_tests_properties(it_${name} PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
		ENVIRONMENT "KITH=$<TARGET_FILE:kith>;KITHD=$<TARGET_FILE:kithd>;KITH_ROGUE=$<TARGET_FILE:kith_rogue>;PYTHONDONTWRITEBYTECODE=1"
		SKIP_RETURN_CODE 77)
endforeach()

# The Debian package (tests/package/test_package.sh): tools/package builds
# it, debootstrap makes a minimal Debian 12, apt installs it there, then
# kith init, kithd, reload and purge run in that chroot. Plain builds only:
# the package is a release build of its own, sanitizers add nothing to it.
# Needs root and the Debian mirror, else skipped. ctest -L package runs it
# alone.
if(NOT KITH_SANITIZE AND NOT KITH_FUZZ)
	add_test(NAME package
		COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/package/test_package.sh ${PROJECT_SOURCE_DIR})
	set_tests_properties(package PROPERTIES LABELS package TIMEOUT 1800 SKIP_RETURN_CODE 77)
endif()
