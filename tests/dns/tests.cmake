# DNS tests that need the scriptable DNS server (tests/dns/dns_server.py) on loopback: the
# server's own self-test, and the c-ares resolver and DNS watcher against it. Servers pick
# their ports at run time and exit with the test process.
eb_script_test(dns_server_selftest
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/dns_server_test.py
  LABELS python dns
  TIMEOUT 120)

if(TARGET eb_dns)
  eb_test(dns_ares_resolver_integration
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/ares_resolver_integration_test.cc
    DEPS eb_dns eb_testing
    LABELS integration dns
    TIMEOUT 120)
  eb_test(dns_watcher_integration
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/dns_watcher_integration_test.cc
    DEPS eb_dns eb_testing
    LABELS integration dns
    TIMEOUT 120)
endif()
