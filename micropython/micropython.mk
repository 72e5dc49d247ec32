# The `multimedia` module for MicroPython's Make-based ports:
#   make USER_C_MODULES=<dir holding this micropython/ directory>
#
# The Rust staticlib comes from `make` (target/release/) or, in the board
# bundle that `make k230` writes (build/k230/), from beside this directory.
# CANMV_RTSP_LIB=/path/to/libcanmv_rtsp.a overrides both.

MULTIMEDIA_MOD_DIR := $(USERMOD_DIR)
CANMV_RTSP_ROOT := $(abspath $(MULTIMEDIA_MOD_DIR)/..)

ifneq ($(wildcard $(CANMV_RTSP_ROOT)/libcanmv_rtsp.a),)
CANMV_RTSP_LIB ?= $(CANMV_RTSP_ROOT)/libcanmv_rtsp.a
else
CANMV_RTSP_LIB ?= $(CANMV_RTSP_ROOT)/target/release/libcanmv_rtsp.a
endif

SRC_USERMOD_C += $(MULTIMEDIA_MOD_DIR)/modmultimedia.c

# canmv_rtsp.h: include/ in the repository, the bundle's top directory in build/k230/.
CFLAGS_USERMOD += -I$(CANMV_RTSP_ROOT)/include -I$(CANMV_RTSP_ROOT)

# The server runs its own thread.
LDFLAGS_USERMOD += $(CANMV_RTSP_LIB) -lpthread
