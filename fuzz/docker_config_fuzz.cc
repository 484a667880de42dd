// Docker config files (registry::read_docker_config): `auths.<host>.auth` = base64("user:password"),
// keys with or without scheme and path, credential helpers refused. Looked up for several hosts.
#include "fuzz.h"
#include "registry/credentials.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  auto path = fuzz::write_scratch("config.json", fuzz::text(data, size));
  for (std::string_view host : {"docker.io", "127.0.0.1:5000", "harbor.example.com", "ghcr.io", "localhost"}) {
    fuzz::expect_clean_errors([&] {
      auto c = registry::read_docker_config(path, host);
      if (!c.anonymous()) fuzz::require(c.origin == path.string(), "credentials without their origin");
    });
  }
  return 0;
}
