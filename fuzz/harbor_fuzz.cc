// Harbor API answers: the robot account Harbor returns on creation (harbor::parse_robot_created),
// and its error bodies, read as registry errors (registry::describe_status).
#include "fuzz.h"
#include "harbor/api.h"
#include "registry/remote_error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  auto body = fuzz::text(data, size);
  fuzz::expect_clean_errors([&] {
    auto robot = harbor::parse_robot_created(body, "create robot account");
    fuzz::require(!robot.name.empty() && !robot.secret.empty(), "a robot without name or secret");
  });
  for (long status : {400L, 403L, 404L, 409L, 500L}) (void)registry::describe_status(status, body);
  return 0;
}
