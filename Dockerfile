# The dsar binary in a small image. Build: docker build -t dsar .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/dsar ./cmd/dsar

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/dsar /usr/local/bin/dsar
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/dsar"]
CMD ["serve"]
