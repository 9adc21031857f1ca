# syntax=docker/dockerfile:1
# The web pages (chat widget at /, agent console at /agent, review page at /review) and the load
# balancer in front of the Rasa servers: nginx with docker/nginx.conf. Build from the repository root:
#   docker build -f docker/web.Dockerfile -t douyin-cs-web .

# The widget's self-contained bundle, from the pinned package-lock.json.
FROM node:20 AS widget
WORKDIR /build
COPY web/vendor/package.json web/vendor/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM nginx:1.27-alpine
RUN rm -rf /usr/share/nginx/html/*
COPY docker/nginx.conf /etc/nginx/conf.d/default.conf
COPY web/index.html web/agent.html web/review.html /usr/share/nginx/html/
COPY web/static/ /usr/share/nginx/html/static/
COPY --from=widget /build/node_modules/rasa-webchat/lib/index.js /usr/share/nginx/html/vendor/webchat.js
COPY docker/config.js /usr/share/nginx/html/config.js
EXPOSE 8080
