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
#include <vector>

#include "bundle/archive_reader.h"
#include "serve/content.h"
#include "serve/htpasswd.h"

namespace sealift::serve {

struct ServerOptions {
  std::string listen = "127.0.0.1:5000";  // "HOST:PORT", "[IPv6]:PORT"; port 0 picks a free one
  std::filesystem::path tls_cert, tls_key;  // PEM; both or neither
  std::filesystem::path htpasswd;           // Basic auth when set
  // Basic auth over plain HTTP on an address other hosts reach sends every password in clear:
  // refused unless this is set.
  bool insecure_plain_auth = false;
  unsigned max_connections = 256;
  // One address cannot take more than this many of them (a node pulls a few layers at once).
  unsigned max_connections_per_address = 16;
  unsigned threads = 4;
  unsigned idle_timeout_seconds = 60;       // a connection that sends nothing this long is closed
  // A request head (request line and headers) not complete this long after the connection opened,
  // or after the previous answer on it, closes the connection, however slowly it trickles in.
  unsigned head_timeout_seconds = 30;
};

// The largest zstd frame `serve` decompresses. Each blob being sent holds one decompressed frame;
// the writer cuts 1 MiB frames, but the framing is not signed, and a bundle re-framed to the
// reader's 32 MiB limit would make max_connections open blobs cost 32 MiB each.
inline constexpr uint32_t kMaxServedFrameSize = 4u << 20;

// Throws Error(Usage) for options that cannot be served as given (before the bundle is verified).
void check_options(const ServerOptions& options);
// Throws Error(Integrity) unless every frame of the bundle carries a seek-table checksum and is at
// most kMaxServedFrameSize: `serve` reads the bundle again for every answer, long after it was
// verified, and relies on those checksums to notice bytes changed since.
void check_servable(const bundle::ArchiveReader& reader);

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
  // What the operator should know but that does not stop serving (a TLS key others can read).
  const std::vector<std::string>& warnings() const { return warnings_; }

  struct State;

 private:
  std::unique_ptr<State> state_;
  uint16_t port_ = 0;
  std::string host_;
  bool tls_ = false;
  std::vector<std::string> warnings_;
};

// Splits "HOST:PORT" / "[V6]:PORT"; throws Error(Usage).
std::pair<std::string, uint16_t> parse_listen(const std::string& listen);

}  // namespace sealift::serve
