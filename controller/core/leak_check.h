// Leak check at the end of main(), for sanitizer builds (a no-op otherwise).
//
// LeakSanitizer's default check runs after static destructors. By then cpprest's process-wide
// thread pool (a function-local static) has been torn down, and asio destroys the handlers of
// connections still closing without running them; pplx then schedules the continuations of
// their body streams onto a pool that no longer exists and they stay unreferenced. That is
// reported as a leak in a few percent of runs, with no frame of ours on the stack. Checking
// when main() returns sees the heap as the program left it, with every object of ours
// destroyed and cpprest's singletons still alive, and the at-exit check is then skipped.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define EB_LEAK_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define EB_LEAK_SANITIZER 1
#endif
#endif

#if defined(EB_LEAK_SANITIZER)
#include <sanitizer/lsan_interface.h>
#endif

namespace endpointbinder::core {

inline void checkLeaksBeforeStaticTeardown() {
#if defined(EB_LEAK_SANITIZER)
  __lsan_do_leak_check();
#endif
}

}  // namespace endpointbinder::core
