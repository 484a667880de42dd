// A throwaway certificate authority and one server certificate it signed for 127.0.0.1 and
// localhost, so test servers can speak HTTPS that clients verify (verification stays on in tests).
#pragma once

#include <filesystem>

namespace sealift::testenv {

struct TestCertificates {
  // dir/trust/ca.crt. Its directory holds nothing else, so it serves as skopeo's --cert-dir.
  std::filesystem::path ca_cert;
  std::filesystem::path server_cert;  // dir/server.crt
  std::filesystem::path server_key;   // dir/server.key, 0600
};

// Creates the CA (its key stays in dir/ca.key, 0600) and the server certificate in dir, with the
// openssl command-line tool. Throws std::runtime_error with openssl's message on failure.
TestCertificates make_test_certificates(const std::filesystem::path& dir);

}  // namespace sealift::testenv
