#include "tests/support/emulator_process.h"

#include <cpprest/http_client.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace endpointbinder::testing {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

std::unexpected<core::Error> failure(std::string message) {
  return core::makeError(core::ErrorKind::kTerminal, std::move(message), "EmulatorError");
}

void killAndReap(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 60; ++i) {  // up to 3 s for a clean stop
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno == ECHILD)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

core::Result<std::unique_ptr<EmulatorProcess>> EmulatorProcess::start(EmulatorOptions options) {
  std::string sourceDir = options.sourceDir;
  if (sourceDir.empty()) {
    const char* fromEnv = std::getenv("EB_SOURCE_DIR");
    sourceDir = fromEnv != nullptr && *fromEnv != '\0' ? fromEnv : ".";
  }
  const std::string script = sourceDir + "/tests/emulator/emulator.py";
  if (::access(script.c_str(), R_OK) != 0) return failure("emulator script missing: " + script);
  if (::access(kPython, X_OK) != 0) return failure(std::string(kPython) + " is not executable");

  // Everything the child needs is built before fork(): after fork in a threaded process only
  // async-signal-safe calls are allowed.
  std::vector<std::string> args = {kPython, script, "--port", "0"};
  args.insert(args.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return failure(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return failure(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);  // dup2 clears FD_CLOEXEC on the new descriptor
    ::execv(kPython, argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);

  // Read the first line within the deadline.
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + options.readyTimeout;
  while (line.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    char buffer[256];
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    line.append(buffer, static_cast<size_t>(n));
  }
  const size_t newline = line.find('\n');
  constexpr std::string_view kReady = "READY ";
  if (newline == std::string::npos || !line.starts_with(kReady)) {
    ::close(fds[0]);
    killAndReap(pid);
    return failure("emulator did not print READY (got \"" + line.substr(0, 200) + "\")");
  }
  std::string url = line.substr(kReady.size(), newline - kReady.size());
  while (!url.empty() && (url.back() == '/' || url.back() == '\r')) url.pop_back();
  return std::unique_ptr<EmulatorProcess>(new EmulatorProcess(pid, fds[0], std::move(url)));
}

EmulatorProcess::EmulatorProcess(pid_t pid, int stdoutFd, std::string url)
    : pid_(pid), stdoutFd_(stdoutFd), url_(std::move(url)) {
  // Keep draining stdout so the emulator never blocks (or dies of EPIPE) writing to it.
  drain_ = std::thread([fd = stdoutFd_] {
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n == 0 || (n < 0 && errno != EINTR)) return;
    }
  });
}

EmulatorProcess::~EmulatorProcess() { stop(); }

void EmulatorProcess::stop() {
  killAndReap(pid_);
  pid_ = -1;
  if (drain_.joinable()) drain_.join();  // the pipe reaches EOF once the child is gone
  if (stdoutFd_ >= 0) ::close(stdoutFd_);
  stdoutFd_ = -1;
}

core::Result<web::json::value> EmulatorProcess::control(const std::string& method,
                                                        const std::string& path,
                                                        const web::json::value& body) {
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(30));
    web::http::client::http_client client(url_, config);
    web::http::http_request request(method);
    request.set_request_uri("/_emulator/" + path);
    if (!body.is_null()) {
      // Bytes, not the json/string overloads (undefined behaviour under UBSan in cpprest).
      const std::string text = body.serialize();
      request.set_body(std::vector<unsigned char>(text.begin(), text.end()));
      request.headers()["Content-Type"] = "application/json";
    }
    web::http::http_response response = client.request(request).get();
    const std::string text = response.extract_utf8string(true).get();
    const web::json::value json =
        text.empty() ? web::json::value::null() : web::json::value::parse(text);
    if (response.status_code() < 200 || response.status_code() >= 300) {
      return failure("emulator control " + method + " " + path + ": HTTP " +
                     std::to_string(response.status_code()) + " " + text.substr(0, 300));
    }
    return json;
  } catch (const std::exception& e) {
    return failure("emulator control " + method + " " + path + ": " + e.what());
  }
}

core::Result<std::string> EmulatorProcess::createTargetGroup(const web::json::value& spec) {
  auto answer = control("POST", "target-groups", spec);
  if (!answer) return std::unexpected(std::move(answer.error()));
  if (!answer->has_string_field("arn")) return failure("target-groups answer has no arn");
  return answer->at("arn").as_string();
}

core::Result<void> EmulatorProcess::addFault(const web::json::value& rule) {
  auto answer = control("POST", "faults", rule);
  if (!answer) return std::unexpected(std::move(answer.error()));
  return {};
}

core::Result<void> EmulatorProcess::clearFaults() {
  auto answer = control("DELETE", "faults");
  if (!answer) return std::unexpected(std::move(answer.error()));
  return {};
}

core::Result<web::json::value> EmulatorProcess::requests() { return control("GET", "requests"); }

core::Result<void> EmulatorProcess::clearRequests() {
  auto answer = control("DELETE", "requests");
  if (!answer) return std::unexpected(std::move(answer.error()));
  return {};
}

core::Result<web::json::value> EmulatorProcess::state() { return control("GET", "state"); }

}  // namespace endpointbinder::testing
