// The HTTP side of `sealift-install serve`: libmicrohttpd (GNU, Debian's libmicrohttpd-dev)
// accepts the connections, parses HTTP, speaks TLS through GnuTLS and streams each answer; the
// answers themselves come from ServedBundle. A blob is decompressed from its seekable frames as
// the client reads it (EntrySource: one frame plus about 400 KiB per open blob), so memory is
// bounded by the connection limit, not by blob sizes or the number of clients.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "bundle/archive_reader.h"
#include "serve/content.h"
#include "serve/htpasswd.h"

namespace sealift::serve {

struct ServerOptions {
  std::string listen = "127.0.0.1:5000";  // "HOST:PORT", "[IPv6]:PORT"; port 0 picks a free one
  std::filesystem::path tls_cert, tls_key;  // PEM; both or neither
  std::filesystem::path htpasswd;           // Basic auth when set
  unsigned max_connections = 256;
  unsigned threads = 4;
  unsigned idle_timeout_seconds = 60;       // a connection that sends nothing this long is closed
};

class Server {
 public:
  // Starts serving on its own threads; throws Error(Usage) for a bad listen address or TLS files,
  // Error(Io) when the address cannot be bound.
  Server(const bundle::ArchiveReader& reader, const ServedBundle& content, const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The port it listens on (the one picked, for port 0).
  uint16_t port() const { return port_; }
  // "http://127.0.0.1:5000" or "https://…".
  std::string url() const;

  struct State;

 private:
  std::unique_ptr<State> state_;
  uint16_t port_ = 0;
  std::string host_;
  bool tls_ = false;
};

// Splits "HOST:PORT" / "[V6]:PORT"; throws Error(Usage).
std::pair<std::string, uint16_t> parse_listen(const std::string& listen);

}  // namespace sealift::serve
