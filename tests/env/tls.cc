#include "env/tls.h"

#include <fcntl.h>
#include <unistd.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "env/process.h"
#include "util/fs.h"

namespace sealift::testenv {

namespace fs = std::filesystem;

namespace {

// openssl writes keys with the process umask; creating the file first keeps it 0600 from the start.
void create_private(const fs::path& p) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + p.string());
  ::close(fd);
}

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = run(argv, {}, {}, 60);
  if (r.exit_code != 0) throw std::runtime_error("openssl " + args.at(0) + " failed: " + r.err);
}

}  // namespace

TestCertificates make_test_certificates(const fs::path& dir) {
  fs::create_directories(dir / "trust");
  TestCertificates c{dir / "trust" / "ca.crt", dir / "server.crt", dir / "server.key"};
  const fs::path ca_key = dir / "ca.key";
  create_private(ca_key);
  create_private(c.server_key);
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc",
           "-keyout", ca_key.string(), "-out", c.ca_cert.string(), "-days", "7", "-subj",
           "/CN=sealift test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
           "keyUsage=critical,keyCertSign,cRLSign"});
  const fs::path csr = dir / "server.csr";
  openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc",
           "-keyout", c.server_key.string(), "-out", csr.string(), "-subj", "/CN=127.0.0.1"});
  const fs::path ext = dir / "server.ext";
  util::write_file_atomic(ext,
                          "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                          "basicConstraints=critical,CA:FALSE\n"
                          "keyUsage=critical,digitalSignature,keyEncipherment\n"
                          "extendedKeyUsage=serverAuth\n");
  // A random serial: clients cache certificates by issuer and serial across test runs.
  std::random_device rd;
  const uint64_t serial = ((uint64_t{rd()} << 32) | rd()) & 0x7fffffffffffffffULL;
  openssl({"x509", "-req", "-in", csr.string(), "-CA", c.ca_cert.string(), "-CAkey", ca_key.string(),
           "-set_serial", std::to_string(serial | 1), "-days", "7", "-extfile", ext.string(), "-out",
           c.server_cert.string()});
  fs::remove(csr);
  fs::remove(ext);
  return c;
}

}  // namespace sealift::testenv
