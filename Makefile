# Douyin customer-service simulator. `make help` lists the targets.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
MODEL := models/douyin-cs.tar.gz
ACTION_PORT ?= 5055
RASA_PORT ?= 5005

export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONPATH := $(CURDIR)

.PHONY: help install venv web system spacy train test test-slow lint format validate test-nlu test-stories pytest \
	actions run shell compare-configs bench screenshots simulate report lock clean evidence-purge \
	agent-add agent-disable agent-role agent-list migrate backup restore review-misses review-export review-check \
	topic topic-check topic-lists

help:
	@echo "make install          create .venv, install pinned packages, build spacy_zh/, train the model"
	@echo "make test             ruff, rasa data validate, pytest, NLU evaluation, story tests"
	@echo "make test-slow        the tests that train a model (the review loop's retraining)"
	@echo "make shell            chat in the terminal (starts the action server too)"
	@echo "make run              web chat http://localhost:8080, agent console /agent, REST on :$(RASA_PORT)"
	@echo "make compare-configs  cross-validate config.yml against configs/*.yml"
	@echo "make simulate         play a simulated day of users (var/simulation/); real-style wording; GOALS=tests/data/answer_holdout.yml: the answer set"
	@echo "make report           results/report.html with charts, from the simulation's stores"
	@echo "make review-misses    the bot's misses in the tracker store (TRACKER_DB=sqlite:///var/simulation/tracker.db)"
	@echo "make review-export    the supervisors' labels (page /review) into data/nlu/reviewed.yml"
	@echo "make review-check     how the trained model reads every reviewed example (before and after make train)"
	@echo "make topic NAME=offline_xr_demo [ZH=中文名] [EN='English name']   a new FAQ topic's files, placeholders to fill"
	@echo "make topic-check NAME=offline_xr_demo   train the NLU with it: which existing topics its examples confuse"
	@echo "make screenshots      the pictures in docs/images/ (chat, 长辈模式, agents' console, review page)"
	@echo "make bench            latency, throughput, memory, training time vs Rasa's default config"
	@echo "make evidence-purge DAYS=90   delete the evidence of tickets whose last upload is older"
	@echo "make agent-add NAME=xiaodou DISPLAY=小抖 [MAX_CHATS=3] [ROLE=supervisor]   add a human agent (asks the password)"
	@echo "make agent-disable NAME=xiaodou   refuse the agent's log-ins and end their sessions"
	@echo "make agent-role NAME=xiaodou ROLE=supervisor   agent or supervisor (reads any conversation)"
	@echo "make agent-list       the human agents, their roles and who is online (more: python -m agents.cli --help)"
	@echo "make backup           a timestamped copy of the service database in var/backups/ (before an upgrade)"
	@echo "make migrate          the service database at the newest schema revision (servers do it at start)"
	@echo "make restore FILE=var/backups/service-….db   put a backup back (servers stopped)"

install: venv web system spacy train

venv: $(BIN)/rasa

$(BIN)/rasa: requirements.lock
	test -x $(BIN)/python || "$$(sh scripts/find_python.sh)" -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==24.3.1
	$(BIN)/pip install --quiet -r requirements.lock
	touch $(BIN)/rasa
	mkdir -p var results

# The chat widget (rasa-webchat's self-contained bundle), served locally by `make run`.
web: web/vendor/node_modules/rasa-webchat/lib/index.js

web/vendor/node_modules/rasa-webchat/lib/index.js: web/vendor/package.json web/vendor/package-lock.json
	cd web/vendor && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# What the tests start besides Rasa: Chromium and CJK fonts (browser tests), Redis and PostgreSQL
# (scale-out and failure tests); ffmpeg reads uploaded videos' duration and first frame (evidence/).
# Installed from the system's packages where missing, when root on Debian/Ubuntu; elsewhere install
# them yourself or those tests are skipped (and videos are stored without a preview).
SYSTEM_PACKAGES := chromium fonts-noto-cjk redis-server postgresql ffmpeg
system:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing fonts-noto-cjk"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v ffprobe >/dev/null 2>&1 || missing="$$missing ffmpeg"; \
	if [ -z "$$missing" ]; then echo "System packages present: $(SYSTEM_PACKAGES)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing:$$missing"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "Missing:$$missing (install them to run every test; the tests that need them are skipped)"; fi

spacy: spacy_zh/meta.json

spacy_zh/meta.json: scripts/build_spacy_model.py knowledge/entities.yml | venv
	$(BIN)/python scripts/build_spacy_model.py

train: $(MODEL)

$(MODEL): config.yml domain.yml $(wildcard data/*.yml data/nlu/*.yml) components/*.py spacy_zh/meta.json
	$(BIN)/rasa train --fixed-model-name douyin-cs --out models
	touch $(MODEL)

# The first command on a fresh clone may be `make test` or `make run`: they bring what they need.
test: venv web system lint validate pytest test-nlu test-stories

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=. $(BIN)/lint-imports --no-cache  # the packages' layers (.importlinter)

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

validate: venv
	$(BIN)/python scripts/topic_lists.py --check
	$(BIN)/rasa data validate --fail-on-warnings

# FAQ topics (docs/adding-a-topic.md). knowledge/topics.yml is the list of topics: topic-lists writes
# the lists Rasa reads from it (domain.yml, data/rules.yml, data/form_rules.yml), `make validate` checks
# them, pytest tests/test_topic_consistency.py checks every file that holds something per topic.
topic-lists: venv
	$(BIN)/python scripts/topic_lists.py

topic: venv
	@test -n "$(NAME)" || { echo "usage: make topic NAME=offline_xr_demo [ZH=中文名] [EN='English name']" >&2; exit 2; }
	$(BIN)/python scripts/new_topic.py $(call agent_quote,$(NAME)) $(if $(ZH),--zh $(call agent_quote,$(ZH))) \
		$(if $(EN),--en $(call agent_quote,$(EN)))

# Trains the NLU alone into a temporary directory (about a minute) and compares its reading of
# tests/nlu_holdout.yml with the current model's ($(MODEL), not retrained first: it is the "before").
topic-check: venv
	@test -n "$(NAME)" || { echo "usage: make topic-check NAME=offline_xr_demo" >&2; exit 2; }
	$(BIN)/python scripts/new_topic.py --check $(call agent_quote,$(NAME))

# Most of the suite waits on servers and a browser: a few workers fill the cores. A module stays on one
# worker (--dist loadfile), so its running bot is started once. Tests that train a model are marked
# slow and run by make test-slow (tests/test_review_loop.py whole: the labels its other tests make are
# exported, a model is trained with them and served, ~2 min).
PYTEST_WORKERS ?= 3
pytest: $(MODEL)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not slow"

test-slow: $(MODEL)
	$(BIN)/python -m pytest tests/test_review_loop.py

# Intent report and confusion matrix on the held-out file (pytest asserts the accuracy).
test-nlu: $(MODEL)
	$(BIN)/rasa test nlu -m $(MODEL) --nlu tests/nlu_holdout.yml --out results/nlu

# rasa test exits 0 on failed stories unless told otherwise.
test-stories: $(MODEL)
	$(BIN)/rasa test core -m $(MODEL) --stories tests/test_stories.yml --out results/stories \
		--fail-on-prediction-errors

actions:
	$(BIN)/rasa run actions --actions actions --port $(ACTION_PORT)

# Ports: make run RASA_PORT=5006 WEB_PORT=8081 ACTION_PORT=5056 (ENDPOINTS: another endpoints file).
# `exec`: make's child is serve.py itself, which stops every server it started when make forwards it
# SIGTERM (or on Ctrl-C).
WEB_PORT ?= 8080
ENDPOINTS ?= endpoints.yml
SERVE = exec $(BIN)/python scripts/serve.py --model $(MODEL) --port $(RASA_PORT) --web-port $(WEB_PORT) \
	--endpoints $(call agent_quote,$(ENDPOINTS)) \
	$(if $(filter command line environment,$(origin ACTION_PORT)),--action-port $(ACTION_PORT))

run: $(MODEL) web
	$(SERVE)

shell: $(MODEL)
	$(SERVE) --shell

compare-configs:
	$(BIN)/python scripts/compare_configs.py

# A simulated day of users through the real servers (stores in var/simulation/), then its report.
simulate: $(MODEL)
	$(BIN)/python scripts/simulate.py $(if $(GOALS),--goals $(GOALS))

# ANSWER_TARGET: seconds within which an agent should answer (service level; default 60).
report:
	$(BIN)/python scripts/report.py $(if $(ANSWER_TARGET),--answer-target $(call agent_quote,$(ANSWER_TARGET)))

# The review loop (review/, docs/review-loop.md): the misses the page /review lists, the
# supervisors' labels into data/nlu/reviewed.yml (make train reads it with data/nlu/), and how the model
# reads each reviewed example (run before and after make train; make test fails on one read wrongly).
TRACKER_DB ?= sqlite:///var/rasa_tracker.db
review-misses:
	$(BIN)/python -m review misses --tracker-db $(call agent_quote,$(TRACKER_DB))

review-export:
	$(BIN)/python -m review export

review-check:
	$(BIN)/python -m review check

# The pictures in docs/images/ (README, docs/): the chat, 长辈模式, the agents' console, the review page,
# made in headless Chromium against servers of their own (scripts/screenshots.py).
screenshots: $(MODEL) web
	$(BIN)/python scripts/screenshots.py

# Speed, memory and accuracy against Rasa's default config (prints a table, writes results/bench.json).
bench: $(MODEL)
	$(BIN)/python -m bench

# Evidence retention: deletes the files and records of every ticket whose last upload is older than
# DAYS days (scripts/purge_evidence.py; --ticket DY… deletes one ticket's evidence now).
DAYS ?= 90
evidence-purge:
	$(BIN)/python scripts/purge_evidence.py --days $(DAYS)

# Human agents' accounts (agents/cli.py, which also has enable, passwd and max-chats). DISPLAY must be
# given on the command line: the X11 variable of the same name is not a display name.
agent_quote = '$(subst ','\'',$(1))'
agent-add:
	@test -n "$(NAME)" && test "$(origin DISPLAY)" = "command line" || \
		{ echo "usage: make agent-add NAME=xiaodou DISPLAY=小抖 [MAX_CHATS=3] [ROLE=supervisor]" >&2; exit 2; }
	$(BIN)/python -m agents.cli add $(call agent_quote,$(NAME)) --name $(call agent_quote,$(DISPLAY)) \
		$(if $(MAX_CHATS),--max-chats $(call agent_quote,$(MAX_CHATS))) \
		$(if $(ROLE),--role $(call agent_quote,$(ROLE)))

agent-disable:
	@test -n "$(NAME)" || { echo "usage: make agent-disable NAME=xiaodou" >&2; exit 2; }
	$(BIN)/python -m agents.cli disable $(call agent_quote,$(NAME))

agent-role:
	@test -n "$(NAME)" && test -n "$(ROLE)" || { echo "usage: make agent-role NAME=xiaodou ROLE=supervisor" >&2; exit 2; }
	$(BIN)/python -m agents.cli role $(call agent_quote,$(NAME)) $(call agent_quote,$(ROLE))

agent-list:
	$(BIN)/python -m agents.cli list

# The service database (CS_DATABASE_URL, else var/service.db) and its schema revisions (migrations/).
# The servers migrate it when they start; this does it beforehand. Take a backup first.
migrate:
	$(BIN)/alembic upgrade head
	$(BIN)/alembic current

# SQLite's online backup API (also while the servers run) or pg_dump, to var/backups/<name>-<time>.
BACKUP_DIR ?= var/backups
backup:
	$(BIN)/python scripts/backup.py --dir $(call agent_quote,$(BACKUP_DIR))

restore:
	@test -n "$(FILE)" || { echo "usage: make restore FILE=var/backups/service-<time>.db" >&2; exit 2; }
	$(BIN)/python scripts/backup.py --restore $(call agent_quote,$(FILE))

lock:
	$(BIN)/pip install --quiet -r requirements.in
	(echo "# Exact versions of every package (make lock regenerates it from requirements.in)."; \
		$(BIN)/pip freeze | grep -v "^-e") > requirements.lock

clean:
	rm -rf models results spacy_zh .pytest_cache web/vendor/node_modules
