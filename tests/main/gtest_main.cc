// main() of every GoogleTest binary: GoogleTest's own, plus the leak check of sanitizer builds
// taken before static teardown (see controller/core/leak_check.h).
#include <gmock/gmock.h>

#include "controller/core/leak_check.h"

int main(int argc, char** argv) {
  testing::InitGoogleMock(&argc, argv);
  const int result = RUN_ALL_TESTS();
  endpointbinder::core::checkLeaksBeforeStaticTeardown();
  return result;
}
