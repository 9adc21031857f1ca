// Behind nginx (docker/nginx.conf) the pages and the Rasa servers share one origin.
window.CS_CONFIG = { rasaUrl: location.origin };
