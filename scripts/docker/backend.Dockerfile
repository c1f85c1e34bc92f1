# The backend, FROM scratch: a static binary (the agents are embedded in it).
FROM scratch
COPY sockerless-backend-lambda /sockerless-backend-lambda
COPY tmp/ /tmp/
ENV TMPDIR=/tmp
ENTRYPOINT ["/sockerless-backend-lambda"]
