# Integration tests in C++: real clients against the local AWS emulator on loopback (each test
# starts and stops its own emulator with /usr/bin/python3).
eb_test(integration_elbv2_emulator_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/elbv2_emulator_test.cc
  DEPS eb_aws eb_testing
  LABELS integration
  TIMEOUT 300)
eb_test(integration_route53_emulator_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/route53_emulator_test.cc
  DEPS eb_aws eb_testing
  LABELS integration
  TIMEOUT 300)
