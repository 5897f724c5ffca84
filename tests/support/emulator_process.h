// EmulatorProcess: runs the local AWS emulator (tests/emulator/emulator.py) as a child process
// for integration tests. start() execs Debian's /usr/bin/python3 with `--port 0`, waits for the
// `READY http://127.0.0.1:<port>` line, and keeps draining the child's stdout; the destructor
// sends SIGTERM, waits briefly, then SIGKILLs and reaps the child, so no emulator outlives its
// test. control() speaks the emulator's unsigned JSON control API (/_emulator/...).
// Thread-safety: control() may be called from several threads; start/destroy from one.
#pragma once

#include <cpprest/json.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "controller/core/error.h"

namespace endpointbinder::testing {

struct EmulatorOptions {
  // Extra command-line flags, e.g. {"--no-throttle", "--seed", "7"}.
  std::vector<std::string> args;
  // Where tests/emulator/emulator.py lives: $EB_SOURCE_DIR, else the working directory.
  std::string sourceDir;
  std::chrono::milliseconds readyTimeout{20'000};
};

class EmulatorProcess {
 public:
  // Starts the emulator and waits for READY. On failure (python or the script missing, no
  // READY line in time) the child is killed and a kTerminal Error explains why.
  static core::Result<std::unique_ptr<EmulatorProcess>> start(EmulatorOptions options = {});

  ~EmulatorProcess();
  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;

  // "http://127.0.0.1:<port>" (no trailing slash).
  const std::string& url() const { return url_; }
  pid_t pid() const { return pid_; }

  // One control call: `method` ("GET", "POST", "DELETE") on /_emulator/<path> with an optional
  // JSON body. Returns the JSON answer; a non-2xx status is a kTerminal Error carrying the
  // emulator's message.
  core::Result<web::json::value> control(const std::string& method, const std::string& path,
                                         const web::json::value& body = web::json::value::null());

  // Convenience wrappers over control().
  // POST /_emulator/target-groups; returns the new ARN. `spec` holds name, port, ... as JSON.
  core::Result<std::string> createTargetGroup(const web::json::value& spec);
  core::Result<void> addFault(const web::json::value& rule);
  core::Result<void> clearFaults();
  // GET /_emulator/requests (all entries with params).
  core::Result<web::json::value> requests();
  core::Result<void> clearRequests();
  // GET /_emulator/state.
  core::Result<web::json::value> state();

 private:
  EmulatorProcess(pid_t pid, int stdoutFd, std::string url);
  void stop();

  pid_t pid_;
  int stdoutFd_;
  std::string url_;
  std::thread drain_;
};

}  // namespace endpointbinder::testing
