#include "tests/support/dns_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace endpointbinder::dns::testing {
namespace {

std::string scriptPath() {
  const char* source = std::getenv("EB_SOURCE_DIR");
  std::string root = source != nullptr && *source != '\0' ? std::string(source) + "/" : "";
  return root + "tests/dns/dns_server.py";
}

// Reads one line from `fd` within `timeout`; nullopt on timeout or EOF.
std::optional<std::string> readLine(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string line;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char c = 0;
    const ssize_t n = ::read(fd, &c, 1);
    if (n <= 0) return std::nullopt;
    if (c == '\n') return line;
    line.push_back(c);
  }
}

}  // namespace

std::unique_ptr<DnsTestServer> DnsTestServer::start(const std::vector<std::string>& extraArgs,
                                                    std::string* error) {
  auto fail = [&](std::string why) -> std::unique_ptr<DnsTestServer> {
    if (error != nullptr) *error = std::move(why);
    return nullptr;
  };
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC) != 0) return fail("pipe failed");

  std::vector<std::string> args = {"/usr/bin/python3", scriptPath(), "--port", "0",
                                   "--max-lifetime",   "600"};
  args.insert(args.end(), extraArgs.begin(), extraArgs.end());
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDOUT_FILENO);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipeFds[1]);
  if (spawned != 0) {
    ::close(pipeFds[0]);
    return fail(std::string("posix_spawn: ") + std::strerror(spawned));
  }

  std::unique_ptr<DnsTestServer> server(new DnsTestServer());
  server->pid_ = pid;
  server->stdoutFd_ = pipeFds[0];
  auto line = readLine(pipeFds[0], std::chrono::seconds(10));
  if (!line) return fail("no READY line from " + scriptPath());
  // "READY dns=127.0.0.1:<port> control=http://127.0.0.1:<port>" (no std::regex: GCC 12
  // warns inside <regex> under -fsanitize, which -Werror turns into a failed ASan build).
  const std::string dnsPrefix = "READY dns=127.0.0.1:";
  const std::string controlPrefix = " control=http://127.0.0.1:";
  const size_t control = line->find(controlPrefix);
  if (line->rfind(dnsPrefix, 0) != 0 || control == std::string::npos) {
    return fail("bad READY line: " + *line);
  }
  server->port_ = std::atoi(line->c_str() + dnsPrefix.size());
  server->controlPort_ = std::atoi(line->c_str() + control + controlPrefix.size());
  if (server->port_ <= 0 || server->controlPort_ <= 0) return fail("bad READY line: " + *line);
  return server;
}

DnsTestServer::~DnsTestServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (stdoutFd_ >= 0) ::close(stdoutFd_);
}

ServerAddress DnsTestServer::serverAddress() const {
  return ServerAddress{*api::IpAddress::parse("127.0.0.1"), port_};
}

DnsTestServer::HttpReply DnsTestServer::request(const std::string& method, const std::string& path,
                                                const std::string& body) {
  HttpReply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return reply;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(controlPort_));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return reply;
  }
  const std::string message =
      method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n" +
      "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < message.size()) {
    const ssize_t n = ::send(fd, message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  // "HTTP/1.0 200 OK\r\n...\r\n\r\nbody"
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) return reply;
  reply.status = std::atoi(response.c_str() + response.find(' ') + 1);
  const auto split = response.find("\r\n\r\n");
  if (split != std::string::npos) reply.body = response.substr(split + 4);
  return reply;
}

bool DnsTestServer::putRecord(const std::string& name, const std::string& recordJson) {
  return request("PUT", "/records/" + name, recordJson).status == 200;
}

bool DnsTestServer::deleteRecord(const std::string& name) {
  return request("DELETE", "/records/" + name).status == 200;
}

bool DnsTestServer::clearQueries() { return request("DELETE", "/queries").status == 200; }

bool DnsTestServer::reset() { return request("POST", "/reset").status == 200; }

std::optional<int> DnsTestServer::jsonInt(const std::string& body, const std::string& object,
                                          const std::string& key) {
  // The server writes json.dumps(sort_keys=True): `"key": value` with one space.
  size_t from = 0;
  if (!object.empty()) {
    from = body.find("\"" + object + "\": {");
    if (from == std::string::npos) return std::nullopt;
    const size_t end = body.find('}', from);
    const std::string inner = body.substr(from, end == std::string::npos ? end : end - from);
    return jsonInt(inner, "", key);
  }
  const std::string needle = "\"" + key + "\": ";
  const size_t at = body.find(needle, from);
  if (at == std::string::npos) return std::nullopt;
  return std::atoi(body.c_str() + at + needle.size());
}

int DnsTestServer::queryCount() {
  auto reply = request("GET", "/queries");
  if (reply.status != 200) return -1;
  return jsonInt(reply.body, "", "count").value_or(-1);
}

int DnsTestServer::transportCount(const std::string& transport) {
  auto reply = request("GET", "/queries");
  if (reply.status != 200) return -1;
  return jsonInt(reply.body, "byTransport", transport).value_or(-1);
}

int DnsTestServer::nameCount(const std::string& name) {
  auto reply = request("GET", "/queries");
  if (reply.status != 200) return -1;
  return jsonInt(reply.body, "byName", name).value_or(0);
}

}  // namespace endpointbinder::dns::testing
