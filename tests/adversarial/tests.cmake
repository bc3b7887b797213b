# The adversarial suite: attacks by strangers and members against real
# agents (see tests/adversarial/test_adversarial.py).
add_executable(kith_flood adversarial/flood.c)
target_link_libraries(kith_flood PRIVATE kith_proto kith::zmq)

# One federation of three agents takes every attack in turn (RUN_SERIAL:
# it starts agents with tight timings, as the integration tests do).
add_test(NAME adversarial
	COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/adversarial/test_adversarial.py)
set_tests_properties(adversarial PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
	ENVIRONMENT "KITH=$<TARGET_FILE:kith>;KITHD=$<TARGET_FILE:kithd>;KITH_FLOOD=$<TARGET_FILE:kith_flood>;PYTHONDONTWRITEBYTECODE=1"
	SKIP_RETURN_CODE 77)
