eb_script_test(deploy_cloudformation
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/cloudformation_test.py LABELS python TIMEOUT 120)
