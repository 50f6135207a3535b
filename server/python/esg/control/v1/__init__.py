"""esg.control.v1: generated stubs of proto/esg/control/v1/control.proto.

`control_pb2` (messages) and `control_pb2_grpc` (ControlStub) are generated at build time by Debian's
protoc + grpc_python_plugin (//server/python:control_stubs) into this package; they are not in the
source tree. Use the `esg.control.Client` wrapper unless you need the raw API.
"""
