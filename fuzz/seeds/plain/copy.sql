--
-- PostgreSQL database dump
--

\restrict rzz64YzAkXkXhLl2i7Mdd1gWRA0mFioiWn8xSqxfVRRjucvfaEuvuIfrXLQeYyn

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: billing_contracts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.billing_contracts (
    id integer NOT NULL,
    service_id character varying(255),
    amount numeric(12,2)
);


--
-- Name: billing_contracts_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.billing_contracts_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: billing_contracts_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.billing_contracts_id_seq OWNED BY public.billing_contracts.id;


--
-- Name: experiment_variants; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.experiment_variants (
    id integer NOT NULL,
    experiment_id integer,
    service_id character varying(255),
    weight numeric(5,2)
);


--
-- Name: experiment_variants_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.experiment_variants_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: experiment_variants_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.experiment_variants_id_seq OWNED BY public.experiment_variants.id;


--
-- Name: experiments; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.experiments (
    id integer NOT NULL,
    name text
);


--
-- Name: experiments_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.experiments_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: experiments_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.experiments_id_seq OWNED BY public.experiments.id;


--
-- Name: model_artifacts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.model_artifacts (
    id uuid NOT NULL,
    model_row_id uuid,
    path text,
    checksum bytea,
    tags text[]
);


--
-- Name: model_feedback; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.model_feedback (
    id bigint NOT NULL,
    model_row_id uuid,
    rating smallint,
    comment text,
    created_on date
);


--
-- Name: model_feedback_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.model_feedback_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: model_feedback_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.model_feedback_id_seq OWNED BY public.model_feedback.id;


--
-- Name: models; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.models (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    model_id character varying(255),
    version character varying(100),
    version_status character varying(50) DEFAULT 'active'::character varying NOT NULL,
    release_notes text,
    is_immutable boolean DEFAULT false NOT NULL,
    submitted_on bigint,
    updated_on bigint,
    name character varying NOT NULL,
    description text,
    ref_url character varying,
    task jsonb NOT NULL,
    languages jsonb,
    license character varying,
    domain jsonb,
    inference_endpoint jsonb NOT NULL,
    benchmarks jsonb,
    submitter jsonb NOT NULL,
    is_published boolean DEFAULT false,
    published_at bigint,
    unpublished_at bigint,
    created_at timestamp without time zone,
    updated_at timestamp without time zone
);


--
-- Name: models_version_backup; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.models_version_backup (
    id uuid,
    model_id character varying(255),
    version character varying(100),
    version_status character varying(50),
    release_notes text,
    is_immutable boolean,
    name character varying,
    description text,
    submitted_on bigint,
    updated_on bigint,
    is_published boolean,
    published_at bigint,
    unpublished_at bigint,
    created_at timestamp without time zone,
    updated_at timestamp without time zone,
    backup_timestamp timestamp without time zone
);


--
-- Name: request_logs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.request_logs (
    id bigint NOT NULL,
    path text,
    status integer,
    at timestamp with time zone,
    payload jsonb
);


--
-- Name: request_logs_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.request_logs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: request_logs_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.request_logs_id_seq OWNED BY public.request_logs.id;


--
-- Name: services; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.services (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    service_id character varying(255) NOT NULL,
    name character varying NOT NULL,
    service_description text,
    hardware_description text,
    published_on bigint,
    model_id character varying(255) NOT NULL,
    model_version character varying(100) DEFAULT '1.0.0'::character varying NOT NULL,
    version_updated_at bigint,
    endpoint character varying,
    api_key character varying,
    health_status jsonb,
    benchmarks jsonb,
    created_at timestamp without time zone,
    updated_at timestamp without time zone
);


--
-- Name: services_version_backup; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.services_version_backup (
    id uuid,
    service_id character varying(255),
    model_id character varying(255),
    model_version character varying(100),
    version_updated_at bigint,
    name character varying,
    endpoint character varying,
    backup_timestamp timestamp without time zone
);


--
-- Name: variant_metrics; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.variant_metrics (
    id bigint NOT NULL,
    variant_id integer,
    metric text,
    value double precision,
    recorded_at timestamp with time zone
);


--
-- Name: variant_metrics_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.variant_metrics_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: variant_metrics_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.variant_metrics_id_seq OWNED BY public.variant_metrics.id;


--
-- Name: billing_contracts id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.billing_contracts ALTER COLUMN id SET DEFAULT nextval('public.billing_contracts_id_seq'::regclass);


--
-- Name: experiment_variants id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.experiment_variants ALTER COLUMN id SET DEFAULT nextval('public.experiment_variants_id_seq'::regclass);


--
-- Name: experiments id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.experiments ALTER COLUMN id SET DEFAULT nextval('public.experiments_id_seq'::regclass);


--
-- Name: model_feedback id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.model_feedback ALTER COLUMN id SET DEFAULT nextval('public.model_feedback_id_seq'::regclass);


--
-- Name: request_logs id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.request_logs ALTER COLUMN id SET DEFAULT nextval('public.request_logs_id_seq'::regclass);


--
-- Name: variant_metrics id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.variant_metrics ALTER COLUMN id SET DEFAULT nextval('public.variant_metrics_id_seq'::regclass);


--
-- Data for Name: billing_contracts; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.billing_contracts (id, service_id, amount) FROM stdin;
1	svc-h1-pinned-1.10.0	1200.00
\.


--
-- Data for Name: experiment_variants; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.experiment_variants (id, experiment_id, service_id, weight) FROM stdin;
1	1	svc-h8-orphan-a1	50.00
2	1	svc-h1-pinned-1.10.0	50.00
3	2	svc-h1-pinned-1.10.0	50.00
4	2	svc-h8-lookalike-trailing-space	50.00
\.


--
-- Data for Name: experiments; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.experiments (id, name) FROM stdin;
1	Orphan cascade: retired model vs semver-text
2	A/B test #2
\.


--
-- Data for Name: model_artifacts; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.model_artifacts (id, model_row_id, path, checksum, tags) FROM stdin;
43893cae-cb97-41e5-81b4-9fff00ca1ab2	ce0e15b2-c71c-5f86-9644-7eb4bfe50481	s3://model-store/trap-h1-semver-text/1.8.0/model-3.onnx	\\x26feb085fd513eb4776d5099a09c18bc6de5a9bb514a797d035c079af7e53ed1	{onnx,fp32}
a9d37ae8-753a-4dda-804a-eb606814f460	18ab10a0-3f69-5830-bc96-8de0546a2477	s3://model-store/trap-h1-semver-text/1.9.0/model-3.onnx	\\x047635873b19e1f02d93a056d16934ff3c4a2bf6b8fdf82423d6ff19550c5d7a	{triton,int8}
4b199023-9a36-42f0-819b-5ef3f3f16159	41475050-203e-554a-909d-686aada2e55d	s3://model-store/trap-h1-semver-text/1.10.0/model-2.onnx	\\x88bf209ca1741593db025338cd80abef3fcb8fcd154eea1160be98e22f961414	{onnx,fp32}
\.


--
-- Data for Name: model_feedback; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.model_feedback (id, model_row_id, rating, comment, created_on) FROM stdin;
1	41475050-203e-554a-909d-686aada2e55d	2	1.10.0 fixed my tokenizer bug.	2024-04-10
\.


--
-- Data for Name: models; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.models (id, model_id, version, version_status, release_notes, is_immutable, submitted_on, updated_on, name, description, ref_url, task, languages, license, domain, inference_endpoint, benchmarks, submitter, is_published, published_at, unpublished_at, created_at, updated_at) FROM stdin;
ce0e15b2-c71c-5f86-9644-7eb4bfe50481	trap-h1-semver-text	1.8.0	deprecated	Initial GA.	f	1709251200	1709596800	IndicTrans pa-ur	IndicTrans pa-ur model for translation, trained on public corpora.	https://github.com/AI4Bharat/indictrans	{"type": "translation"}	[{"sourceLanguage": "pa", "targetLanguage": "ur"}]	cc-by-4.0	["general"]	{"isSyncApi": true, "callbackUrl": "https://inference.example.org/trap-h1-semver-text/infer", "modelProcessor": "triton"}	[{"name": "flores200", "score": 60.96, "metric": "bleu", "language": "pa"}]	{"name": "AI4Bharat", "team": [{"name": "Anoop"}]}	t	1709344800	\N	2024-03-02 00:00:00	2024-03-05 00:00:00
18ab10a0-3f69-5830-bc96-8de0546a2477	trap-h1-semver-text	1.9.0	active	Faster decoding.	f	1710028800	1710374400	IndicTrans pa-ur	IndicTrans pa-ur model for translation, trained on public corpora.	https://github.com/AI4Bharat/indictrans	{"type": "translation"}	[{"sourceLanguage": "pa", "targetLanguage": "ur"}]	cc-by-4.0	["general"]	{"isSyncApi": true, "callbackUrl": "https://inference.example.org/trap-h1-semver-text/infer", "modelProcessor": "triton"}	[{"name": "flores200", "score": 33.8, "metric": "bleu", "language": "pa"}]	{"name": "AI4Bharat", "team": [{"name": "Anoop"}]}	t	1710122400	\N	2024-03-11 00:00:00	2024-03-14 00:00:00
41475050-203e-554a-909d-686aada2e55d	trap-h1-semver-text	1.10.0	active	New tokenizer.	f	1710892800	1711238400	IndicTrans pa-ur	IndicTrans pa-ur model for translation, trained on public corpora.	https://github.com/AI4Bharat/indictrans	{"type": "translation"}	[{"sourceLanguage": "pa", "targetLanguage": "ur"}]	cc-by-4.0	["general"]	{"isSyncApi": true, "callbackUrl": "https://inference.example.org/trap-h1-semver-text/infer", "modelProcessor": "triton"}	[{"name": "flores200", "score": 43.97, "metric": "bleu", "language": "pa"}]	{"name": "AI4Bharat", "team": [{"name": "Anoop"}]}	t	1710986400	\N	2024-03-21 00:00:00	2024-03-24 00:00:00
\.


--
-- Data for Name: models_version_backup; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.models_version_backup (id, model_id, version, version_status, release_notes, is_immutable, name, description, submitted_on, updated_on, is_published, published_at, unpublished_at, created_at, updated_at, backup_timestamp) FROM stdin;
ce0e15b2-c71c-5f86-9644-7eb4bfe50481	trap-h1-semver-text	1.8.0	deprecated	Initial GA.	f	IndicTrans pa-ur	IndicTrans pa-ur model for translation, trained on public corpora.	1709251200	1709596800	t	1709344800	\N	2024-03-02 00:00:00	2024-03-05 00:00:00	2025-01-15 02:30:00
18ab10a0-3f69-5830-bc96-8de0546a2477	trap-h1-semver-text	1.9.0	active	Faster decoding.	f	IndicTrans pa-ur	IndicTrans pa-ur model for translation, trained on public corpora.	1710028800	1710374400	t	1710122400	\N	2024-03-11 00:00:00	2024-03-14 00:00:00	2025-01-15 02:30:00
49b0d83d-e8bb-54dd-a5a1-4b9ec0dcd207	trap-h1-semver-text	1.7.0	deprecated	\N	f	Semver text	\N	1709251200	\N	f	\N	\N	2024-03-01 00:00:00	2024-03-01 00:00:00	2025-01-15 02:30:00
\.


--
-- Data for Name: request_logs; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.request_logs (id, path, status, at, payload) FROM stdin;
1	/services/inference/asr?q=it's "quoted"\\n;--	400	2024-01-01 00:00:01+00	{"body": "line one\\n\\\\.\\nline three after a \\\\. at line start\\r\\nCRLF line\\ttab\\tseparated", "error": {"nl": "a\\nb\\tc", "pct": "100%", "sql": "';--", "uni": "é日本🚀", "note": "he said \\"hi\\" \\\\ C:\\\\path\\\\to\\\\model", "dollar": "$$x$$", "bs_only": "\\\\"}}
\.


--
-- Data for Name: services; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.services (id, service_id, name, service_description, hardware_description, published_on, model_id, model_version, version_updated_at, endpoint, api_key, health_status, benchmarks, created_at, updated_at) FROM stdin;
c5ea43cc-4877-5b0c-8649-946cd218d0a9	svc-h1-pinned-1.10.0	Semver-text service (pinned 1.10.0)	Semver-text service (pinned 1.10.0) deployed on V100	NVIDIA V100	1711843200	trap-h1-semver-text	1.10.0	1711929600	https://inference.example.org/services/svc-h1-pinned-1.10.0	fake-c6fdfeef9ceae0507415c0bc1ba0cc3f	{"status": "healthy", "lastUpdated": "2024-03-31 01:00:00"}	[{"name": "p50_latency", "value_ms": 100}]	2024-03-31 00:00:00	2024-03-31 02:00:00
98aa01f6-1c84-506b-92dd-645d58593b05	svc-h1-pinned-1.9.0	Semver-text service (pinned 1.9.0)	Semver-text service (pinned 1.9.0) deployed on CPU	CPU only, 16 vCPU	1711843200	trap-h1-semver-text	1.9.0	1711929600	https://inference.example.org/services/svc-h1-pinned-1.9.0	fake-7a350e2d5cfdf2e3caed34cbc2ce0e1a	{"status": "healthy", "lastUpdated": "2024-03-31 01:00:00"}	\N	2024-03-31 00:00:00	2024-03-31 02:00:00
d588f79e-f8eb-5e57-9632-1983ab3946e8	svc-h7-dangling-3.0.0	Dangling pin 3.0.0	Dangling pin 3.0.0 deployed on CPU	CPU only, 16 vCPU	1711843200	trap-h1-semver-text	3.0.0	1711929600	https://inference.example.org/services/svc-h7-dangling-3.0.0	fake-d45342d22474aaf4e66e22501175554f	{"status": "unhealthy", "lastUpdated": "2024-03-31 01:00:00"}	\N	2024-03-31 00:00:00	2024-03-31 02:00:00
95ffbb92-728f-51fd-bfdc-a59106b75242	svc-h7-dangling-trailing-space	Pin 1.9.0 with a trailing space	Pin 1.9.0 with a trailing space deployed on CPU	CPU only, 16 vCPU	1711843200	trap-h1-semver-text	1.9.0 	1711929600	https://inference.example.org/services/svc-h7-dangling-trailing-space	fake-4d8c6143c05766df016cf823093da9c2	{"status": "unhealthy", "lastUpdated": "2024-03-31 01:00:00"}	[{"name": "p50_latency", "value_ms": 898}]	2024-03-31 00:00:00	2024-03-31 02:00:00
c86a2592-0497-5ce3-b75d-dc1fe7fcbf33	svc-h8-orphan-a1	Orphan with experiments	Orphan with experiments deployed on V100	NVIDIA V100	1711843200	trap-h8-retired-model	1.0.0	1711929600	https://inference.example.org/services/svc-h8-orphan-a1	fake-4924067f66857d27e30e2813a0b123bc	{"status": "healthy", "lastUpdated": "2024-03-31 01:00:00"}	\N	2024-03-31 00:00:00	2024-03-31 02:00:00
fd85edca-f012-58bf-aa5c-aae13bd9f1c3	svc-h8-orphan-a2	Orphan without experiments	Orphan without experiments deployed on A100	NVIDIA A100	1711843200	trap-h8-retired-model	2.1.0	1711929600	https://inference.example.org/services/svc-h8-orphan-a2	fake-71a1e68d5b0ff8c269bd59f29e5fd6fc	{"status": "healthy", "lastUpdated": "2024-03-31 01:00:00"}	[{"name": "p50_latency", "value_ms": 183}]	2024-03-31 00:00:00	2024-03-31 02:00:00
033d9065-7530-5ec6-b970-41e77cfbeb31	svc-h8-lookalike-trailing-space	Orphan: model_id trap-h1-semver-text with a trailing space	Orphan: model_id trap-h1-semver-text with a trailing space deployed on L4	NVIDIA L4	1711843200	trap-h1-semver-text 	1.9.0	1711929600	https://inference.example.org/services/svc-h8-lookalike-trailing-space	fake-99377fa5c91c526ded56bc5f7f9e1b18	{"status": "healthy", "lastUpdated": "2024-03-31 01:00:00"}	\N	2024-03-31 00:00:00	2024-03-31 02:00:00
499339bc-5da3-574d-a002-f4e9f0617cf3	svc-h8-case-mismatch	Orphan: model_id in upper case	Orphan: model_id in upper case deployed on A100	NVIDIA A100	1711843200	TRAP-H2-CASE-ONLY	1.0.0	1711929600	https://inference.example.org/services/svc-h8-case-mismatch	fake-15f77d0daf8f7ddffaa05806c8abda19	{"status": "healthy", "lastUpdated": "2024-03-31 01:00:00"}	\N	2024-03-31 00:00:00	2024-03-31 02:00:00
b9e350c3-72a6-5586-8dc6-926cb67cac55	svc-h8-hostile-orphan 'gone'	Orphan with hostile model_id	Orphan with hostile model_id deployed on CPU	CPU only, 16 vCPU	1711843200	hostile/gone 'model' \\ \t;--	1.0.0	1711929600	https://inference.example.org/services/svc-h8-hostile-orphan 'gone'	fake-7876d335355483c1db36ec7ad0f0ef65	{"status": "unhealthy", "lastUpdated": "2024-03-31 01:00:00"}	\N	2024-03-31 00:00:00	2024-03-31 02:00:00
\.


--
-- Data for Name: services_version_backup; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.services_version_backup (id, service_id, model_id, model_version, version_updated_at, name, endpoint, backup_timestamp) FROM stdin;
c5ea43cc-4877-5b0c-8649-946cd218d0a9	svc-h1-pinned-1.10.0	trap-h1-semver-text	1.9.0	1711929600	Semver-text service (pinned 1.10.0)	https://inference.example.org/services/svc-h1-pinned-1.10.0	2025-01-15 02:30:00
98aa01f6-1c84-506b-92dd-645d58593b05	svc-h1-pinned-1.9.0	trap-h1-semver-text	1.9.0	1711929600	Semver-text service (pinned 1.9.0)	https://inference.example.org/services/svc-h1-pinned-1.9.0	2025-01-15 02:30:00
95ffbb92-728f-51fd-bfdc-a59106b75242	svc-h7-dangling-trailing-space	trap-h1-semver-text	1.9.0 	1711929600	Pin 1.9.0 with a trailing space	https://inference.example.org/services/svc-h7-dangling-trailing-space	2025-01-15 02:30:00
c86a2592-0497-5ce3-b75d-dc1fe7fcbf33	svc-h8-orphan-a1	trap-h8-retired-model	1.0.0	1711929600	Orphan with experiments	https://inference.example.org/services/svc-h8-orphan-a1	2025-01-15 02:30:00
fd85edca-f012-58bf-aa5c-aae13bd9f1c3	svc-h8-orphan-a2	trap-h8-retired-model	2.1.0	1711929600	Orphan without experiments	https://inference.example.org/services/svc-h8-orphan-a2	2025-01-15 02:30:00
033d9065-7530-5ec6-b970-41e77cfbeb31	svc-h8-lookalike-trailing-space	trap-h1-semver-text 	1.9.0	1711929600	Orphan: model_id trap-h1-semver-text with a trailing space	https://inference.example.org/services/svc-h8-lookalike-trailing-space	2025-01-15 02:30:00
499339bc-5da3-574d-a002-f4e9f0617cf3	svc-h8-case-mismatch	TRAP-H2-CASE-ONLY	1.0.0	1711929600	Orphan: model_id in upper case	https://inference.example.org/services/svc-h8-case-mismatch	2025-01-15 02:30:00
b9e350c3-72a6-5586-8dc6-926cb67cac55	svc-h8-hostile-orphan 'gone'	hostile/gone 'model' \\ \t;--	1.0.0	1711929600	Orphan with hostile model_id	https://inference.example.org/services/svc-h8-hostile-orphan 'gone'	2025-01-15 02:30:00
\.


--
-- Data for Name: variant_metrics; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.variant_metrics (id, variant_id, metric, value, recorded_at) FROM stdin;
1	1	bleu	205.495	2024-06-18 14:46:04+00
2	1	latency_ms	409.38	2024-08-30 21:01:21+00
3	2	wer	495.437	2025-02-07 08:51:11+00
4	2	wer	479.528	2024-11-07 20:32:53+00
5	3	bleu	98.482	2025-02-24 18:35:54+00
6	3	bleu	326.234	2025-01-13 09:03:12+00
7	3	bleu	483.498	2024-10-20 01:10:40+00
8	3	error_rate	145.817	2024-06-24 06:29:36+00
9	3	latency_ms	225.467	2024-09-10 22:19:44+00
10	4	latency_ms	123.249	2025-02-02 01:09:18+00
11	4	throughput_rps	223.716	2024-07-22 22:51:50+00
\.


--
-- Name: billing_contracts_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.billing_contracts_id_seq', 1, true);


--
-- Name: experiment_variants_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.experiment_variants_id_seq', 4, true);


--
-- Name: experiments_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.experiments_id_seq', 2, true);


--
-- Name: model_feedback_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.model_feedback_id_seq', 1, true);


--
-- Name: request_logs_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.request_logs_id_seq', 1, true);


--
-- Name: variant_metrics_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.variant_metrics_id_seq', 11, true);


--
-- Name: billing_contracts billing_contracts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.billing_contracts
    ADD CONSTRAINT billing_contracts_pkey PRIMARY KEY (id);


--
-- Name: experiment_variants experiment_variants_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.experiment_variants
    ADD CONSTRAINT experiment_variants_pkey PRIMARY KEY (id);


--
-- Name: experiments experiments_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.experiments
    ADD CONSTRAINT experiments_pkey PRIMARY KEY (id);


--
-- Name: model_artifacts model_artifacts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.model_artifacts
    ADD CONSTRAINT model_artifacts_pkey PRIMARY KEY (id);


--
-- Name: model_feedback model_feedback_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.model_feedback
    ADD CONSTRAINT model_feedback_pkey PRIMARY KEY (id);


--
-- Name: models models_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.models
    ADD CONSTRAINT models_pkey PRIMARY KEY (id);


--
-- Name: request_logs request_logs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.request_logs
    ADD CONSTRAINT request_logs_pkey PRIMARY KEY (id);


--
-- Name: services services_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.services
    ADD CONSTRAINT services_pkey PRIMARY KEY (id);


--
-- Name: services services_service_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.services
    ADD CONSTRAINT services_service_id_key UNIQUE (service_id);


--
-- Name: models uq_model_id_version; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.models
    ADD CONSTRAINT uq_model_id_version UNIQUE (model_id, version);


--
-- Name: variant_metrics variant_metrics_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.variant_metrics
    ADD CONSTRAINT variant_metrics_pkey PRIMARY KEY (id);


--
-- Name: idx_model_id_version; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_model_id_version ON public.models USING btree (model_id, version);


--
-- Name: idx_model_id_version_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_model_id_version_status ON public.models USING btree (model_id, version_status);


--
-- Name: idx_service_model_version; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_service_model_version ON public.services USING btree (model_id, model_version);


--
-- Name: billing_contracts billing_contracts_service_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.billing_contracts
    ADD CONSTRAINT billing_contracts_service_id_fkey FOREIGN KEY (service_id) REFERENCES public.services(service_id) ON DELETE RESTRICT;


--
-- Name: experiment_variants experiment_variants_experiment_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.experiment_variants
    ADD CONSTRAINT experiment_variants_experiment_id_fkey FOREIGN KEY (experiment_id) REFERENCES public.experiments(id) ON DELETE CASCADE;


--
-- Name: experiment_variants experiment_variants_service_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.experiment_variants
    ADD CONSTRAINT experiment_variants_service_id_fkey FOREIGN KEY (service_id) REFERENCES public.services(service_id) ON DELETE CASCADE;


--
-- Name: model_artifacts model_artifacts_model_row_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.model_artifacts
    ADD CONSTRAINT model_artifacts_model_row_id_fkey FOREIGN KEY (model_row_id) REFERENCES public.models(id) ON DELETE CASCADE;


--
-- Name: model_feedback model_feedback_model_row_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.model_feedback
    ADD CONSTRAINT model_feedback_model_row_id_fkey FOREIGN KEY (model_row_id) REFERENCES public.models(id) ON DELETE SET NULL;


--
-- Name: variant_metrics variant_metrics_variant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.variant_metrics
    ADD CONSTRAINT variant_metrics_variant_id_fkey FOREIGN KEY (variant_id) REFERENCES public.experiment_variants(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--

\unrestrict rzz64YzAkXkXhLl2i7Mdd1gWRA0mFioiWn8xSqxfVRRjucvfaEuvuIfrXLQeYyn

