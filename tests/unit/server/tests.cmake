# Script tests of the server layer (included by tests/CMakeLists.txt).

# Metrics lint: metrics_dump prints a ControllerMetrics in which every method has been called
# (in-process, and as served over HTTP by MetricsServer); `promtool check metrics` must accept
# both without a single complaint.
add_executable(eb_metrics_dump ${CMAKE_CURRENT_LIST_DIR}/metrics_dump.cc)
target_link_libraries(eb_metrics_dump PRIVATE eb_server)
find_program(EB_PROMTOOL promtool HINTS /usr/bin)
eb_script_test(server_metrics_promtool
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/check_metrics_lint.py
          $<TARGET_FILE:eb_metrics_dump> ${EB_PROMTOOL}
  LABELS unit promtool
  TIMEOUT 120)

# `get` and `describe` of the real binary against a stand-in status API: both kinds of binding.
eb_script_test(server_cli_get_test
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/cli_get_test.py
  LABELS python server
  TIMEOUT 120)
