# Read by cpack once per generator (CPACK_PROJECT_CONFIG_FILE): which install components make
# up the package (see packaging/CMakeLists.txt). Unspecified holds install rules that name no
# component, such as the admin tool's.
if(CPACK_GENERATOR STREQUAL "DEB")
  set(CPACK_COMPONENTS_ALL zerofs_common zerofs_deb Unspecified)
elseif(CPACK_GENERATOR STREQUAL "RPM")
  set(CPACK_COMPONENTS_ALL zerofs_common zerofs_rpm Unspecified)
else()
  message(FATAL_ERROR "nfs-ganesha-zerofs is packaged as DEB and RPM only, not ${CPACK_GENERATOR}")
endif()

# The admin tool's target exists or not (written at generate time by packaging/CMakeLists.txt).
include(${CPACK_ZEROFS_TOOL_FILE})
if(ZEROFS_PKG_HAS_TOOL)
  string(APPEND CPACK_DEBIAN_PACKAGE_DESCRIPTION "${CPACK_ZEROFS_TOOL_DESC}")
  string(APPEND CPACK_RPM_PACKAGE_DESCRIPTION "${CPACK_ZEROFS_TOOL_DESC}")
endif()
