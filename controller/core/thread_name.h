// Names the calling thread, so that `top -H`, `ps -L`, perf and /proc/<pid>/task/*/comm say
// which of the controller's threads spends the CPU (cpprest's own threads keep the process
// name). The one operating-system call in core: it changes nothing the controller does.
// A thread starts with its creator's name: one a named thread starts (std::async in leader
// election, a library's lazily started thread) shows its creator's name unless it names itself.
#pragma once

#include <pthread.h>

#include <cstddef>

namespace endpointbinder::core {

// `name`: a literal of 15 characters at most (Linux's limit; a longer one would be refused).
template <std::size_t N>
void nameThisThread(const char (&name)[N]) {
  static_assert(N <= 16, "a thread name has 15 characters at most");
  ::pthread_setname_np(::pthread_self(), name);
}

}  // namespace endpointbinder::core
