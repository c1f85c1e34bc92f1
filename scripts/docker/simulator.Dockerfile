# The simulator, FROM scratch: a static binary and a writable data directory.
# It drives the local Docker engine through its socket, mounted at run time.
FROM scratch
COPY sockerless-simulator-aws /sockerless-simulator-aws
COPY tmp/ /tmp/
ENV SIM_ADDR=127.0.0.1:4566 TMPDIR=/tmp
ENTRYPOINT ["/sockerless-simulator-aws"]
