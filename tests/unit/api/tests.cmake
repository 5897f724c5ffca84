# Script tests of the api layer and the `validate` command; they drive the real binary
# ($EB_BIN_DIR/endpoint-binder), so build the endpoint-binder target first.
eb_script_test(api_schema_test
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/schema_test.py
  LABELS python api TIMEOUT 180)
eb_script_test(api_cli_validate_test
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/cli_validate_test.py
  LABELS python api TIMEOUT 120)
