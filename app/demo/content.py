# ruff: noqa: S105
"""Demo catalogue loaded by ``mcx demo``: issuers, micro-credentials, stacks and demo log-ins.

Data only: no imports beyond typing and no database code; three small private helpers build
the repeated alignment, artifact and rubric-criterion shapes. The credentials follow the six
components issuers publish (competency, key method, method components, research & resources,
submission criteria, scoring rubric) and were written from the seed documents of the Illinois
Principals Association (IPA), the Center for Teaching Quality (CTQ) and Digital Promise:
IPA's leadership-coaching series (Collaborative published; Reflective and Directive in pilot)
and CTQ's four-part teacher leadership stack, plus a CTQ Data Literacy credential. Every
person and school named in USERS is fictional.
"""

from typing import Any

_LEVEL_LABELS = ("Not yet", "Approaching", "Meets", "Exceeds")

_FRAMEWORK_URLS = {
    "PSEL": "https://www.npbea.org/psel/",
    "IPSLS": "https://www.ilga.gov/commission/jcar/admincode/023/02300029sections.html",
    "InTASC": "https://ccsso.org/resource-library/intasc-model-core-teaching-standards-and-learning-progressions-teachers-10",
    "TLMS": "https://www.nnstoy.org/download/standards/Teacher%20Leader%20Standards.pdf",
}


def _standard(framework: str, code: str, title: str) -> dict[str, Any]:
    """One alignment row: PSEL, Illinois Professional School Leader Standards, InTASC, TLMS."""
    return {
        "framework": framework,
        "code": f"{framework} {code}",
        "title": title,
        "url": _FRAMEWORK_URLS[framework],
    }


def _criterion(title: str, description: str, *descriptors: str) -> dict[str, Any]:
    """One rubric criterion: four ordered levels, lowest first, worth 0 to 3 points."""
    return {
        "title": title,
        "description": description,
        "levels": [
            {"label": label, "points": points, "descriptor": text}
            for points, (label, text) in enumerate(zip(_LEVEL_LABELS, descriptors, strict=True))
        ],
    }


def _artifact(
    kind: str,
    title: str,
    description: str,
    *,
    required: bool = True,
    words: tuple[int | None, int] | None = None,
) -> dict[str, Any]:
    """One submission criterion: an artifact the earner submits; a reflection's word range is
    enforced, so it must match what the description asks for."""
    found = {"title": title, "description": description, "kind": kind, "required": required}
    if words is not None:
        found.update(min_words=words[0], max_words=words[1])
    return found


ORGANISATIONS: list[dict[str, Any]] = [
    {
        "slug": "ipa",
        "name": "Illinois Principals Association",
        "url": "https://www.ilprincipals.org",
        "email": "microcredentials@ilprincipals.org",
        "description": (
            "The professional association of Illinois principals and assistant principals. "
            "With partner states, IPA develops research-based micro-credentials for school "
            "leaders, grounded in the Professional Standards for Educational Leaders, the School "
            "Leader Paradigm and the Illinois Professional School Leader Standards. Each "
            "micro-credential earns professional development credit; pilot participants are "
            "assessed free of charge."
        ),
    },
    {
        "slug": "ctq",
        "name": "Center for Teaching Quality",
        "url": "https://www.teachingquality.org",
        "email": "microcredentials@teachingquality.org",
        "description": (
            "A national nonprofit that cultivates teacher leadership and teacher-powered "
            "schools. CTQ authors and issues micro-credentials that let teachers document the "
            "impact of their leadership, so that they can lead without leaving the classroom."
        ),
    },
    {
        "slug": "isbe",
        "name": "Illinois State Board of Education",
        "url": "https://www.isbe.net",
        "email": "licensure@isbe.example",
        "description": (
            "The state agency for Illinois schools. It keeps the state's list of recognised "
            "micro-credentials and what each counts for toward licence renewal."
        ),
    },
]

CREDENTIALS: list[dict[str, Any]] = [
    # ----------------------------------------------------------------- IPA: leadership coaching
    {
        "slug": "collaborative-leadership-coaching",
        "organisation": "ipa",
        "title": "Collaborative Leadership Coaching",
        "summary": (
            "Coach a teacher as a partner: analyse classroom evidence together, negotiate a "
            "goal for students and co-design the next steps. IPA's first published credential."
        ),
        "topic": "Effective Coaching",
        "status": "published",
        "pilot_spots": None,
        "stakes": "low",
        "pd_hours": 10,
        "competency": (
            "The school leader uses a collaborative coaching approach with a teacher or teacher "
            "team: leader and teacher analyse evidence of practice together, share decisions "
            "about a goal and a plan of action, and take joint responsibility for the results "
            "for students."
        ),
        "key_method": (
            "The leader runs one full collaborative coaching cycle (planning conference, "
            "evidence gathering, reflecting conference) in which every decision is negotiated: "
            "each party proposes, both listen, and the agreed plan is written in both voices."
        ),
        "method_components": (
            "Set up the partnership: agree on purpose, confidentiality, roles and a meeting "
            "calendar, and make clear that coaching is separate from evaluation.\n"
            "Gather evidence together (scripted notes, tallies, student work); describe before "
            "interpreting.\n"
            "Share perspectives: state your reading, ask for the teacher's, name where you "
            "differ.\n"
            "Negotiate one measurable student goal and two or three steps with owners and dates.\n"
            "Follow up within three weeks and decide together to continue, adjust or close the "
            "cycle."
        ),
        "research_resources": (
            "Glickman, C. D., Gordon, S. P., & Ross-Gordon, J. M. (2018). SuperVision and "
            "Instructional Leadership: A Developmental Approach (10th ed.). Pearson.\n"
            "Knight, J. (2018). The Impact Cycle: What Instructional Coaches Should Do to Foster "
            "Powerful Improvements in Teaching. Corwin.\n"
            "Aguilar, E. (2013). The Art of Coaching: Effective Strategies for School "
            "Transformation. Jossey-Bass."
        ),
        "alignments": [
            _standard("PSEL", "6", "Professional Capacity of School Personnel"),
            _standard("PSEL", "7", "Professional Community for Teachers and Staff"),
            _standard("IPSLS", "2", "School Culture and Instructional Program"),
        ],
        "submission_criteria": [
            _artifact(
                "video",
                "Coaching conversation video",
                "An unedited 10-15 minute excerpt of the reflecting conference in which you "
                "and the teacher analyse evidence and agree on a goal. Include the "
                "teacher's signed consent; keep students out of frame.",
            ),
            _artifact(
                "document",
                "Co-constructed coaching plan",
                "The plan you wrote with the teacher: focus, baseline evidence, the "
                "measurable student goal, action steps with owners and dates, and the "
                "follow-up evidence.",
            ),
            _artifact(
                "reflection",
                "Reflection on the cycle",
                "500-750 words: how decisions were shared, where you and the teacher "
                "disagreed and how you resolved it, and what the follow-up evidence shows.",
                words=(500, 750),
            ),
        ],
        "rubric": {
            "min_level": 2,
            "min_points": None,
            "criteria": [
                _criterion(
                    "Shared analysis of evidence",
                    "Leader and teacher examine objective evidence together before interpreting.",
                    "No evidence is used, or the leader presents conclusions to the teacher.",
                    "Evidence is shared, but the leader does most of the interpreting.",
                    "Both describe the evidence, state their readings and check understanding.",
                    "The teacher leads parts of the analysis; differing readings are resolved.",
                ),
                _criterion(
                    "Negotiated goal and plan",
                    "The goal and action steps are decided jointly, measurable and about students.",
                    "There is no goal, or the goal is set by the leader alone.",
                    "A joint goal exists but is vague or about adult actions only.",
                    "A measurable student goal with owners, dates and evidence of progress.",
                    "As Meets, and the teacher's ideas visibly shape the plan and its measures.",
                ),
                _criterion(
                    "Follow-up and reflection",
                    "The leader reviews results with the teacher and reflects on the coaching.",
                    "No follow-up took place, or the reflection only describes events.",
                    "Follow-up took place; the reflection names results without analysing them.",
                    "Results are reviewed against the goal and the next step is agreed jointly.",
                    "The reflection analyses the leader's own stance and how to refine it.",
                ),
            ],
        },
    },
    {
        "slug": "reflective-leadership-coaching",
        "organisation": "ipa",
        "title": "Reflective Leadership Coaching",
        "summary": (
            "Help an experienced teacher think through their own practice and reach their own "
            "decisions, using listening, paraphrase and mediating questions instead of advice."
        ),
        "topic": "Effective Coaching",
        "status": "pilot",
        "pilot_spots": 3,
        "stakes": "low",
        "pd_hours": 10,
        "competency": (
            "The school leader uses a reflective (non-directive) coaching approach so that an "
            "experienced teacher or team analyses its own practice and arrives at its own "
            "decisions. The leader listens, paraphrases and asks mediating questions rather "
            "than offering solutions."
        ),
        "key_method": (
            "The leader holds a reflective coaching conversation in which the teacher does most "
            "of the talking and all of the deciding; the leader uses pauses, paraphrase and "
            "open, positively presumed questions to surface the teacher's thinking."
        ),
        "method_components": (
            "Choose the stance deliberately: record why this teacher owns the issue and has the "
            "expertise.\n"
            "Listen first: let the teacher describe the situation; use wait time and paraphrase.\n"
            "Ask mediating questions: 'What are you noticing?', 'What might be some options?'.\n"
            "Hold back solutions: if asked, offer a short menu of options and hand the choice "
            "back.\n"
            "Close with commitment: the teacher states the decision, first step and a check-in "
            "date."
        ),
        "research_resources": (
            "Costa, A. L., & Garmston, R. J. (2016). Cognitive Coaching: Developing "
            "Self-Directed Leaders and Learners (3rd ed.). Rowman & Littlefield.\n"
            "Lipton, L., & Wellman, B. M. (2013). Learning-Focused Supervision: Developing "
            "Professional Expertise in Standards-Driven Systems. MiraVia.\n"
            "Schön, D. A. (1983). The Reflective Practitioner: How Professionals Think in "
            "Action. Basic Books."
        ),
        "alignments": [
            _standard("PSEL", "6", "Professional Capacity of School Personnel"),
            _standard("IPSLS", "2", "School Culture and Instructional Program"),
        ],
        "submission_criteria": [
            _artifact(
                "audio",
                "Coaching conversation audio",
                "A 15-20 minute audio recording of a reflective coaching conversation, "
                "with the teacher's written consent.",
            ),
            _artifact(
                "document",
                "Annotated transcript excerpt",
                "A transcript of at least five exchanges from the recording, annotated to "
                "label each of your moves (pause, paraphrase, mediating question) and the "
                "teacher's response to it.",
            ),
            _artifact(
                "reflection",
                "Reflection on the stance",
                "300-500 words: why the reflective stance fit this teacher, where you were "
                "tempted to direct, and what the teacher decided.",
                words=(300, 500),
            ),
        ],
        "rubric": {
            "min_level": 2,
            "min_points": None,
            "criteria": [
                _criterion(
                    "Listening and paraphrasing",
                    "The leader shows understanding before asking or suggesting anything.",
                    "The leader interrupts or redirects; little evidence of listening.",
                    "Some paraphrasing, but the leader often moves quickly to own agenda.",
                    "Consistent wait time and accurate paraphrase of content and emotion.",
                    "Paraphrase is used to summarise and shift the teacher's thinking upward.",
                ),
                _criterion(
                    "Mediating questions",
                    "Questions are open, non-judgemental and invite the teacher to think.",
                    "Questions are mostly closed, leading or disguised advice.",
                    "A mix of open and leading questions.",
                    "Most questions are open and positively presumed.",
                    "Questions are well timed and visibly deepen the teacher's analysis.",
                ),
                _criterion(
                    "Teacher ownership of the decision",
                    "The teacher, not the leader, frames the problem and chooses the action.",
                    "The leader makes the decision.",
                    "The teacher decides, but chooses among options the leader steered toward.",
                    "The teacher frames the problem, decides and states a first step.",
                    "The teacher also sets the success measure and the check-in.",
                ),
            ],
        },
    },
    {
        "slug": "directive-leadership-coaching",
        "organisation": "ipa",
        "title": "Directive Leadership Coaching",
        "summary": (
            "When students' learning or safety requires prompt change, state clear expectations "
            "backed by evidence, offer bounded choices and follow up. Expert-assessed."
        ),
        "topic": "Effective Coaching",
        "status": "pilot",
        "pilot_spots": 13,
        "stakes": "high",
        "pd_hours": 12,
        "competency": (
            "The school leader uses a directive coaching approach when students' learning or "
            "safety requires prompt change: the leader names the concern with evidence, sets "
            "clear expectations, provides a limited set of research-based options and follows "
            "up to confirm the change, while preserving the teacher's dignity."
        ),
        "key_method": (
            "Directive-informational conference: the leader presents the evidence and the "
            "standard, states the expected change, offers two or three concrete strategies for "
            "the teacher to choose from, commits to specific support and fixes a date for a "
            "follow-up observation."
        ),
        "method_components": (
            "Decide the stance: record why urgency or a non-negotiable practice calls for "
            "direction.\n"
            "Prepare the evidence: objective observation data tied to a standard, no judgements.\n"
            "State the expectation: problem, required change and timeline; the teacher restates "
            "them.\n"
            "Offer bounded choice: two or three research-based strategies, each with a model.\n"
            "Support and follow up: give the promised support, observe again, give written "
            "feedback."
        ),
        "research_resources": (
            "Glickman, C. D., Gordon, S. P., & Ross-Gordon, J. M. (2018). SuperVision and "
            "Instructional Leadership: A Developmental Approach (10th ed.). Pearson.\n"
            "Bambrick-Santoyo, P. (2018). Leverage Leadership 2.0: A Practical Guide to Building "
            "Exceptional Schools. Jossey-Bass.\n"
            "Danielson, C. (2013). The Framework for Teaching Evaluation Instrument. The "
            "Danielson Group."
        ),
        "alignments": [
            _standard("PSEL", "2", "Ethics and Professional Norms"),
            _standard("PSEL", "6", "Professional Capacity of School Personnel"),
            _standard("IPSLS", "2", "School Culture and Instructional Program"),
            _standard("IPSLS", "5", "Acting with Integrity, Fairness, and in an Ethical Manner"),
        ],
        "submission_criteria": [
            _artifact(
                "document",
                "Observation evidence and conference plan",
                "The observation data you used, the standard it relates to, your written "
                "rationale for a directive stance and your plan for the conference.",
            ),
            _artifact(
                "video",
                "Directive conference video",
                "An unedited recording of the whole conference (usually 15-25 minutes), "
                "with the teacher's written consent.",
            ),
            _artifact(
                "document",
                "Follow-up feedback",
                "The written feedback you gave after the follow-up observation, showing "
                "whether the expected change occurred and what happens next.",
            ),
            _artifact(
                "reflection",
                "Reflection (optional)",
                "Up to 500 words on how the teacher responded and what you would do differently.",
                required=False,
                words=(None, 500),
            ),
        ],
        "rubric": {
            "min_level": 2,
            "min_points": 9,
            "criteria": [
                _criterion(
                    "Rationale for the directive stance",
                    "The choice of a directive approach is justified by evidence and context.",
                    "No rationale, or the directive stance is the leader's default.",
                    "A rationale is given but is not tied to evidence or student impact.",
                    "Urgency or context is documented and tied to evidence of student impact.",
                    "The rationale also weighs the other stances and plans a later shift.",
                ),
                _criterion(
                    "Clarity of expectations",
                    "The problem, required change and timeline are unambiguous and respectful.",
                    "Expectations are unclear, or the tone is punitive.",
                    "Expectations are stated but vague on the change or the timeline.",
                    "Specific, standard-based expectations; the teacher restates them.",
                    "As Meets, and the teacher's dignity and voice are visibly preserved.",
                ),
                _criterion(
                    "Bounded choice and support",
                    "The teacher chooses among concrete strategies; the leader commits support.",
                    "A single strategy is imposed with no support.",
                    "Options are offered but are generic, or support is not specified.",
                    "Two or three research-based options and specific, dated support.",
                    "Options are matched to the teacher's context and support is modelled.",
                ),
                _criterion(
                    "Follow-up and impact",
                    "The leader verifies the change in practice and its effect on students.",
                    "No follow-up observation.",
                    "Follow-up took place but feedback is general.",
                    "Written feedback states whether the change occurred, with evidence.",
                    "Feedback also shows student impact and sets the next coaching stance.",
                ),
            ],
        },
    },
    # ----------------------------------------------------- CTQ: teacher leadership stack #1-#4
    {
        "slug": "understanding-your-leadership-strengths",
        "organisation": "ctq",
        "title": "#1 Understanding Your Leadership Strengths",
        "summary": (
            "Find out what kind of teacher leader you are: compare a leadership self-assessment "
            "with colleagues' feedback and turn the result into a growth plan."
        ),
        "topic": "Teacher Leadership",
        "status": "published",
        "pilot_spots": None,
        "stakes": "low",
        "pd_hours": 5,
        "competency": (
            "The teacher identifies their own leadership strengths and growth areas using a "
            "structured self-assessment and feedback from colleagues, and connects them to a "
            "leadership role that meets a real need in their school, network or community."
        ),
        "key_method": (
            "Self-assessment with 360-degree feedback: the teacher rates themself on teacher "
            "leadership competencies, gathers structured feedback from at least three "
            "colleagues, compares the two and writes a leadership growth plan."
        ),
        "method_components": (
            "Rate yourself on the Teacher Leadership Competencies; note three strengths, two "
            "gaps.\n"
            "Ask at least three colleagues in different roles to rate you on the same "
            "competencies.\n"
            "Compare: name blind spots (you rate higher) and hidden strengths (others rate "
            "higher).\n"
            "Map your strengths to a need you could lead on without leaving the classroom.\n"
            "Write a growth plan: one leadership goal, the learning you will do, a measure of "
            "growth."
        ),
        "research_resources": (
            "National Board for Professional Teaching Standards, Center for Teaching Quality, & "
            "National Education Association. (2014). The Teacher Leadership Competencies.\n"
            "Berry, B., Byrd, A., & Wieder, A. (2013). Teacherpreneurs: Innovative Teachers Who "
            "Lead But Don't Leave. Jossey-Bass.\n"
            "York-Barr, J., & Duke, K. (2004). What do we know about teacher leadership? "
            "Review of Educational Research, 74(3), 255-316."
        ),
        "alignments": [
            _standard("InTASC", "9", "Professional Learning and Ethical Practice"),
            _standard("InTASC", "10", "Leadership and Collaboration"),
            _standard(
                "TLMS", "Domain III", "Promoting Professional Learning for Continuous Improvement"
            ),
        ],
        "submission_criteria": [
            _artifact(
                "document",
                "Completed self-assessment",
                "Your leadership self-assessment with ratings, marking the three strengths "
                "and two growth areas you identified.",
            ),
            _artifact(
                "image",
                "Self and colleague ratings chart",
                "A chart or screenshot comparing your ratings with at least three "
                "colleagues' ratings, competency by competency. No colleague names.",
            ),
            _artifact(
                "reflection",
                "Leadership growth plan",
                "400-600 words: what the comparison revealed, the school need your "
                "strengths can address, your leadership goal and how you will measure it.",
                words=(400, 600),
            ),
        ],
        "rubric": {
            "min_level": 2,
            "min_points": None,
            "criteria": [
                _criterion(
                    "Evidence-based self-assessment",
                    "Strengths and growth areas rest on both self-ratings and colleague feedback.",
                    "Only self-perception is used.",
                    "Colleague feedback is collected but not compared with self-ratings.",
                    "Blind spots and hidden strengths are identified from the comparison.",
                    "Discrepancies are explored with colleagues and explained.",
                ),
                _criterion(
                    "Connection to a real need",
                    "Strengths are tied to a leadership opportunity in the teacher's context.",
                    "No need or role is identified.",
                    "A need is named but not linked to the teacher's strengths.",
                    "A specific need is matched to named strengths.",
                    "The need is evidenced with data or stakeholder voice.",
                ),
                _criterion(
                    "Growth plan",
                    "The plan names a goal, learning actions and a measure of growth.",
                    "No plan, or a list of intentions without a goal.",
                    "A goal is stated but learning actions or measures are missing.",
                    "A clear goal, concrete learning actions and a measure of growth.",
                    "The plan also names who will give ongoing feedback and when.",
                ),
            ],
        },
    },
    {
        "slug": "building-your-teacher-powered-team",
        "organisation": "ctq",
        "title": "#2 Building Your Teacher-Powered Team",
        "summary": (
            "Bring colleagues together around a problem you share and set up the norms, roles "
            "and decision rules that let a team of teachers make real decisions."
        ),
        "topic": "Teacher Leadership",
        "status": "published",
        "pilot_spots": None,
        "stakes": "low",
        "pd_hours": 6,
        "competency": (
            "The teacher leader convenes a team of colleagues around a shared problem of "
            "practice and establishes the norms, roles and decision-making agreements that give "
            "the team collective autonomy and let its members work as equals."
        ),
        "key_method": (
            "Team launch and working agreements: the teacher leader recruits colleagues, "
            "facilitates a launch meeting that sets norms, roles and a decision-making "
            "protocol, clarifies the team's authority with administrators and writes a charter."
        ),
        "method_components": (
            "Recruit three or more colleagues with complementary strengths around a shared "
            "problem.\n"
            "Facilitate a launch meeting that co-creates norms and a decision rule (consensus, "
            "vote).\n"
            "Define rotating roles: facilitator, recorder, timekeeper, liaison to administration.\n"
            "Agree with administrators which decisions the team owns and which it recommends.\n"
            "Revisit the norms after three meetings and revise them from team feedback."
        ),
        "research_resources": (
            "Farris-Berg, K., & Dirkswager, E. J. (2012). Trusting Teachers with School Success: "
            "What Happens When Teachers Call the Shots. Rowman & Littlefield.\n"
            "Garmston, R. J., & Wellman, B. M. (2016). The Adaptive School: A Sourcebook for "
            "Developing Collaborative Groups (3rd ed.). Rowman & Littlefield.\n"
            "Lencioni, P. (2002). The Five Dysfunctions of a Team. Jossey-Bass."
        ),
        "alignments": [
            _standard("InTASC", "10", "Leadership and Collaboration"),
            _standard(
                "TLMS",
                "Domain I",
                "Fostering a Collaborative Culture to Support "
                "Educator Development and Student Learning",
            ),
        ],
        "submission_criteria": [
            _artifact(
                "video",
                "Launch meeting video",
                "A 10-minute excerpt of the launch meeting in which the team co-creates "
                "norms or its decision-making agreement. Every participant must consent.",
            ),
            _artifact(
                "document",
                "Team charter",
                "The written charter: problem of practice, members and roles, norms, "
                "decision-making protocol and the decisions agreed with administrators.",
            ),
            _artifact(
                "reflection",
                "Reflection on team formation",
                "300-500 words: how you recruited, what the team debated when setting "
                "norms, and what changed when you revisited them.",
                words=(300, 500),
            ),
        ],
        "rubric": {
            "min_level": 2,
            "min_points": None,
            "criteria": [
                _criterion(
                    "Shared problem and membership",
                    "The team forms around a problem members own, with complementary strengths.",
                    "The team has no shared problem, or was assigned without input.",
                    "A problem is named but chosen by the leader alone.",
                    "Members agree on the problem and bring complementary strengths.",
                    "Members' own evidence shaped the problem statement.",
                ),
                _criterion(
                    "Norms and decision-making",
                    "Norms and decision rules are co-created, written and used.",
                    "No norms or decision rules.",
                    "Norms exist but were written by the leader or are not used.",
                    "Co-created norms and a decision protocol are visible in the meeting.",
                    "Norms were revisited and revised from team feedback.",
                ),
                _criterion(
                    "Collective autonomy",
                    "The team's authority is clear and roles are shared.",
                    "The team's authority is undefined; the leader holds all roles.",
                    "Roles are defined but authority with administrators is unclear.",
                    "Rotating roles and an agreed scope of decisions with administrators.",
                    "The team has already exercised its authority on a real decision.",
                ),
            ],
        },
    },
    {
        "slug": "cultivating-a-shared-purpose",
        "organisation": "ctq",
        "title": "#3 Cultivating a Shared Purpose",
        "summary": (
            "Lead your team to a purpose everyone can state and commit to, grounded in what "
            "your students need and measured by a few clear indicators."
        ),
        "topic": "Teacher Leadership",
        "status": "published",
        "pilot_spots": None,
        "stakes": "low",
        "pd_hours": 6,
        "competency": (
            "The teacher leader facilitates a process through which the team articulates a "
            "shared purpose, grounded in evidence of student needs, that every member can state "
            "and commits to."
        ),
        "key_method": (
            "Shared-purpose protocol: the team examines student evidence and stakeholder input, "
            "members draft purpose statements individually, the team finds common ground and "
            "agrees on one concise statement with indicators of progress."
        ),
        "method_components": (
            "Gather evidence of student needs from two or more sources (data, student voice, "
            "families).\n"
            "Use a structured protocol: every member drafts a purpose statement alone first.\n"
            "Surface common themes and real differences; make sure quieter voices are heard.\n"
            "Agree on a statement of at most two sentences and two or three progress indicators.\n"
            "Share the purpose beyond the team and collect the response."
        ),
        "research_resources": (
            "DuFour, R., DuFour, R., Eaker, R., Many, T. W., & Mattos, M. (2016). Learning by "
            "Doing: A Handbook for Professional Learning Communities at Work (3rd ed.). "
            "Solution Tree.\n"
            "McDonald, J. P., Mohr, N., Dichter, A., & McDonald, E. C. (2013). The Power of "
            "Protocols: An Educator's Guide to Better Practice (3rd ed.). Teachers College Press.\n"
            "Senge, P. M. (2006). The Fifth Discipline: The Art and Practice of the Learning "
            "Organization (rev. ed.). Doubleday."
        ),
        "alignments": [
            _standard("InTASC", "10", "Leadership and Collaboration"),
            _standard(
                "TLMS",
                "Domain I",
                "Fostering a Collaborative Culture to Support "
                "Educator Development and Student Learning",
            ),
        ],
        "submission_criteria": [
            _artifact(
                "image",
                "Protocol artefacts",
                "Photos of the chart paper, sticky notes or digital board from the "
                "protocol, showing individual drafts and the common themes.",
            ),
            _artifact(
                "document",
                "Shared purpose statement and indicators",
                "The agreed statement, the student evidence behind it and the two or three "
                "indicators the team will track.",
            ),
            _artifact(
                "link",
                "Purpose shared beyond the team",
                "A link to where the purpose was shared (newsletter, website, slide deck), "
                "with any responses collected.",
                required=False,
            ),
        ],
        "rubric": {
            "min_level": 2,
            "min_points": None,
            "criteria": [
                _criterion(
                    "Grounding in student evidence",
                    "The purpose follows from evidence of what students need.",
                    "No student evidence is used.",
                    "One source of evidence, loosely connected to the purpose.",
                    "Two or more sources clearly inform the purpose.",
                    "Students or families helped interpret the evidence.",
                ),
                _criterion(
                    "Inclusive process",
                    "Every member contributes before the group converges.",
                    "The statement was written by the leader or one member.",
                    "Members contributed, but discussion was dominated by a few.",
                    "Individual drafts came first; all voices appear in the themes.",
                    "Disagreements were surfaced and resolved openly.",
                ),
                _criterion(
                    "Clarity and commitment",
                    "The statement is concise, measurable and owned by the team.",
                    "No agreed statement.",
                    "A statement exists but is long, vague or without indicators.",
                    "A concise statement with two or three indicators of progress.",
                    "The purpose was shared beyond the team and the response recorded.",
                ),
            ],
        },
    },
    {
        "slug": "ensuring-alignment-to-a-shared-purpose",
        "organisation": "ctq",
        "title": "#4 Ensuring Alignment to a Shared Purpose",
        "summary": (
            "Keep your team's decisions, practices and time pointed at its purpose: monitor "
            "progress, stop what does not fit and report results. Expert-assessed."
        ),
        "topic": "Teacher Leadership",
        "status": "published",
        "pilot_spots": None,
        "stakes": "high",
        "pd_hours": 8,
        "competency": (
            "The teacher leader ensures that the team's decisions, practices and use of time "
            "and resources stay aligned to its shared purpose over time, by monitoring "
            "indicators of progress, making evidence-based course corrections and reporting "
            "results to stakeholders."
        ),
        "key_method": (
            "Alignment review cycle: at set intervals the team audits its initiatives, practices "
            "and meetings against the shared purpose, examines its progress indicators, decides "
            "what to continue, change or stop, and reports the decisions and results."
        ),
        "method_components": (
            "Map every initiative, practice and standing meeting against the purpose and "
            "indicators.\n"
            "Collect data on each indicator at least twice over at least eight weeks.\n"
            "Facilitate an alignment review: continue, change or stop each item, with evidence.\n"
            "Address drift: name it respectfully with those involved and agree on a next step.\n"
            "Report results and decisions to administrators, students or families; invite "
            "feedback."
        ),
        "research_resources": (
            "Bryk, A. S., Gomez, L. M., Grunow, A., & LeMahieu, P. G. (2015). Learning to "
            "Improve: How America's Schools Can Get Better at Getting Better. Harvard Education "
            "Press.\n"
            "Fullan, M., & Quinn, J. (2016). Coherence: The Right Drivers in Action for Schools, "
            "Districts, and Systems. Corwin.\n"
            "Boudett, K. P., City, E. A., & Murnane, R. J. (Eds.). (2013). Data Wise: A "
            "Step-by-Step Guide to Using Assessment Results to Improve Teaching and Learning "
            "(rev. ed.). Harvard Education Press."
        ),
        "alignments": [
            _standard("InTASC", "10", "Leadership and Collaboration"),
            _standard(
                "TLMS", "Domain IV", "Facilitating Improvements in Instruction and Student Learning"
            ),
            _standard(
                "TLMS",
                "Domain V",
                "Promoting the Use of Assessments and Data for School and District Improvement",
            ),
        ],
        "submission_criteria": [
            _artifact(
                "document",
                "Alignment map",
                "The map of initiatives, practices and meetings against the purpose and its "
                "indicators, marked with the team's continue / change / stop decisions.",
            ),
            _artifact(
                "link",
                "Progress data",
                "A view-only link to the spreadsheet or dashboard with indicator data from "
                "at least two points in time. Remove student names.",
            ),
            _artifact(
                "video",
                "Alignment review meeting video",
                "A 15-minute excerpt of the review meeting showing the team deciding from "
                "evidence. Every participant must consent.",
            ),
            _artifact(
                "reflection",
                "Reflection on alignment",
                "500-750 words: what the team stopped or changed and why, how you handled "
                "drift, and what the indicators show.",
                words=(500, 750),
            ),
        ],
        "rubric": {
            "min_level": 1,
            "min_points": 9,
            "criteria": [
                _criterion(
                    "Alignment audit",
                    "All of the team's work is checked against the purpose.",
                    "No audit, or only new initiatives are considered.",
                    "Some initiatives are mapped; meetings and time use are left out.",
                    "Initiatives, practices and meetings are mapped to the indicators.",
                    "The audit also covers resources and is updated on a schedule.",
                ),
                _criterion(
                    "Monitoring progress",
                    "Indicator data are collected over time and used.",
                    "No indicator data.",
                    "Data from one point in time only.",
                    "Data from two or more points over eight weeks, compared with baseline.",
                    "Data are disaggregated to check that all student groups benefit.",
                ),
                _criterion(
                    "Evidence-based course correction",
                    "The team continues, changes or stops work because of evidence.",
                    "No decisions, or decisions unrelated to evidence.",
                    "Decisions are made but the link to evidence is weak.",
                    "At least one change or stop decision clearly follows from evidence.",
                    "Drift was addressed directly and respectfully with those involved.",
                ),
                _criterion(
                    "Reporting to stakeholders",
                    "Results and decisions are communicated beyond the team.",
                    "Nothing is reported.",
                    "Results are reported without the decisions taken.",
                    "Results and decisions are reported to at least one stakeholder group.",
                    "Stakeholder feedback was invited and shaped the next cycle.",
                ),
            ],
        },
    },
    # ------------------------------------------------------------ CTQ: further seed topics
    {
        "slug": "leading-data-informed-team-inquiry",
        "organisation": "ctq",
        "title": "Leading Data-Informed Team Inquiry",
        "summary": (
            "Guide colleagues from what the data show to what they will do differently, and "
            "back to the data to see whether it worked."
        ),
        "topic": "Data Literacy",
        "status": "pilot",
        "pilot_spots": 8,
        "stakes": "low",
        "pd_hours": 6,
        "competency": (
            "The teacher leader guides a team of colleagues through a cycle of inquiry that "
            "uses several sources of student data to name a learner-centred problem, choose a "
            "common instructional response and measure its effect."
        ),
        "key_method": (
            "Structured data protocol (for example Data Wise or the ATLAS Looking at Data "
            "protocol): the team moves from low-inference observation to interpretation to "
            "action, then returns to new evidence."
        ),
        "method_components": (
            "Select two or more de-identified data sources, one of them student work.\n"
            "Facilitate observation ('What do we see?') before interpretation ('What explains "
            "it?').\n"
            "Name a learner-centred problem and a problem of practice the team can control.\n"
            "Agree on a common instructional response and a four-to-six-week measure.\n"
            "Return to the data, compare with the baseline and decide the next step."
        ),
        "research_resources": (
            "Boudett, K. P., City, E. A., & Murnane, R. J. (Eds.). (2013). Data Wise (rev. "
            "ed.). Harvard Education Press.\n"
            "Mandinach, E. B., & Gummer, E. S. (2016). Data Literacy for Educators: Making It "
            "Count in Teacher Preparation and Practice. Teachers College Press.\n"
            "Love, N., Stiles, K. E., Mundry, S., & DiRanna, K. (2008). The Data Coach's Guide "
            "to Improving Learning for All Students. Corwin."
        ),
        "alignments": [
            _standard("InTASC", "6", "Assessment"),
            _standard(
                "TLMS",
                "Domain V",
                "Promoting the Use of Assessments and Data for School and District Improvement",
            ),
        ],
        "submission_criteria": [
            _artifact(
                "image",
                "Annotated data displays",
                "Images of the data displays the team used, annotated with the team's "
                "observations and inferences. No student names.",
            ),
            _artifact(
                "document",
                "Inquiry cycle record",
                "Agendas and notes from the first and last meetings, the problem "
                "statements, the agreed response and the before/after results.",
            ),
            _artifact(
                "reflection",
                "Facilitation reflection",
                "300-500 words on how you kept observation separate from interpretation "
                "and what the team learned.",
                words=(300, 500),
            ),
        ],
        "rubric": {
            "min_level": 2,
            "min_points": None,
            "criteria": [
                _criterion(
                    "Data selection and preparation",
                    "Data are relevant, varied and de-identified.",
                    "One source only, or identifying information left in.",
                    "Two sources, but student work is missing or poorly matched to the focus.",
                    "Two or more relevant, de-identified sources including student work.",
                    "Sources include student voice and are displayed for easy comparison.",
                ),
                _criterion(
                    "From observation to inference",
                    "The team observes before it interprets and names a problem it controls.",
                    "The team jumps to causes or blames factors outside its control.",
                    "Observation and inference are mixed; the problem is broad.",
                    "Observations precede inferences; a specific problem of practice is named.",
                    "Competing explanations are tested against the data.",
                ),
                _criterion(
                    "Action and measurement",
                    "A common response is tried and its effect measured.",
                    "No action agreed.",
                    "Action agreed but not measured, or measured without a baseline.",
                    "A common response is measured against a baseline over 4-6 weeks.",
                    "Results lead to a clear next cycle shared with colleagues.",
                ),
            ],
        },
    },
]

STACKS: list[dict[str, Any]] = [
    {
        "slug": "teacher-leadership",
        "organisation": "ctq",
        "title": "Teacher Leadership",
        "description": (
            "Four micro-credentials, earned in order, that take a teacher from knowing their "
            "leadership strengths to leading a teacher-powered team that stays aligned to a "
            "shared purpose. Earning all four awards the Teacher Leadership stack badge."
        ),
        "credentials": [
            "understanding-your-leadership-strengths",
            "building-your-teacher-powered-team",
            "cultivating-a-shared-purpose",
            "ensuring-alignment-to-a-shared-purpose",
        ],
    },
    {
        "slug": "leadership-coaching",
        "organisation": "ipa",
        "title": "Leadership Coaching",
        "description": (
            "The three coaching stances of developmental supervision: collaborative, reflective "
            "and directive. A leader who earns all three can choose the stance that fits each "
            "teacher and situation."
        ),
        "credentials": [
            "collaborative-leadership-coaching",
            "reflective-leadership-coaching",
            "directive-leadership-coaching",
        ],
    },
]

# Demo log-ins. earner1 and reviewer1 share a school, to exercise same-school exclusion.
USERS: list[dict[str, Any]] = [
    {
        "email": "coordinator@ipa.example",
        "name": "Maren Castillo",
        "password": "ipa-coordinator-demo",
        "school": "IPA office",
        "roles": {"ipa": ["coordinator"]},
    },
    {
        "email": "coordinator@ctq.example",
        "name": "Jordan Ellison",
        "password": "ctq-coordinator-demo",
        "school": "CTQ office",
        "roles": {"ctq": ["coordinator"]},
    },
    {
        "email": "reviewer1@mcx.example",
        "name": "Priya Raman",
        "password": "reviewer-demo-1",
        "school": "Lincoln Prairie Elementary School",
        "roles": {"ipa": ["reviewer"], "ctq": ["reviewer"]},
    },
    {
        "email": "reviewer2@mcx.example",
        "name": "Marcus Bell",
        "password": "reviewer-demo-2",
        "school": "Fox River High School",
        "roles": {"ipa": ["reviewer"], "ctq": ["reviewer"]},
    },
    {
        "email": "reviewer3@mcx.example",
        "name": "Elena Novak",
        "password": "reviewer-demo-3",
        "school": "Maple Grove Middle School",
        "roles": {"ipa": ["reviewer"], "ctq": ["reviewer"]},
    },
    {
        # The one demo reviewer who has not calibrated yet (app/demo/calibration.py): they must
        # pass a calibration example before a peer credential's work is theirs to claim.
        "email": "reviewer4@mcx.example",
        "name": "Ruth Adeyemi",
        "password": "reviewer-demo-4",
        "school": "Prairie View Elementary School",
        "roles": {"ipa": ["reviewer"], "ctq": ["reviewer"]},
    },
    {
        "email": "expert1@mcx.example",
        "name": "Gloria Whitaker",
        "password": "expert-demo-1",
        "school": "Riverside Unit District 12",
        "roles": {"ipa": ["expert", "reviewer"], "ctq": ["expert", "reviewer"]},
    },
    {
        "email": "expert2@mcx.example",
        "name": "Samuel Okafor",
        "password": "expert-demo-2",
        "school": "Cedar Hills High School",
        "roles": {"ipa": ["expert", "reviewer"], "ctq": ["expert", "reviewer"]},
    },
    {
        "email": "earner1@mcx.example",
        "name": "Hannah Lindqvist",
        "password": "earner-demo-1",
        "school": "Lincoln Prairie Elementary School",
        "roles": {"ipa": ["earner"], "ctq": ["earner"]},
    },
    {
        "email": "earner2@mcx.example",
        "name": "Tomás Rivera",
        "password": "earner-demo-2",
        "school": "Oak Ridge Middle School",
        "roles": {"ipa": ["earner"], "ctq": ["earner"]},
    },
    {
        "email": "earner3@mcx.example",
        "name": "Aisha Patel",
        "password": "earner-demo-3",
        "school": "Westview High School",
        "roles": {"ipa": ["earner"], "ctq": ["earner"]},
    },
    {
        "email": "recognizer@isbe.example",
        "name": "Dana Whitfield",
        "password": "recognizer-demo-1",
        "school": "Illinois State Board of Education",
        "roles": {"ipa": ["recognizer"], "ctq": ["recognizer"], "isbe": ["recognizer"]},
    },
]

# The catalogue's own quality (issue 18). Earners' ratings of credentials: clarity,
# relevance, workload, feedback (1-5) and a short text; three per credential is the minimum
# for averages to show, so the third credential below shows "too few ratings yet".
RATINGS: list[dict[str, Any]] = [
    {
        "credential": "collaborative-leadership-coaching",
        "earner": "earner1@mcx.example",
        "stars": [5, 5, 4, 5],
        "text": "The coaching-cycle template made the video easy to plan. Feedback was specific.",
        "answer": "Thank you! The template is now linked from the key method too.",
    },
    {
        "credential": "collaborative-leadership-coaching",
        "earner": "earner2@mcx.example",
        "stars": [4, 5, 3, 4],
        "text": "Worth it, but recording two conferences took longer than the hours suggest.",
    },
    {
        "credential": "collaborative-leadership-coaching",
        "earner": "earner3@mcx.example",
        "stars": [4, 4, 4, 5],
        "text": "",
    },
    {
        "credential": "understanding-your-leadership-strengths",
        "earner": "earner1@mcx.example",
        "stars": [5, 4, 5, 4],
        "text": "A gentle first step into the stack.",
    },
    {
        "credential": "understanding-your-leadership-strengths",
        "earner": "earner2@mcx.example",
        "stars": [3, 4, 5, 3],
        "text": "The rubric's top level was hard to tell apart from meets.",
    },
    {
        "credential": "understanding-your-leadership-strengths",
        "earner": "earner3@mcx.example",
        "stars": [4, 4, 4, 4],
        "text": "",
    },
    {
        "credential": "leading-data-informed-team-inquiry",
        "earner": "earner2@mcx.example",
        "stars": [4, 5, 2, 4],
        "text": "Six weeks of data is a lot in one pilot term.",
    },
]

# A review panel that certified one credential's design against the quality rubric: each
# panellist's level (0-3) on its six components, in the rubric's order.
PANELS: list[dict[str, Any]] = [
    {
        "credential": "collaborative-leadership-coaching",
        "organisation": "ipa",
        "name": "IPA design review panel, autumn 2026",
        "convened_by": "coordinator@ipa.example",
        "scores": {
            "expert1@mcx.example": [3, 2, 2, 2, 3, 2],
            "expert2@mcx.example": [3, 2, 3, 2, 2, 2],
        },
    },
]

# The state's recognition list: what each credential counts for, and from when.
RECOGNITIONS: list[dict[str, Any]] = [
    {
        "organisation": "isbe",
        "credential": "collaborative-leadership-coaching",
        "credit_type": "licence_renewal",
        "amount": "10",
        "effective_from": "2026-07-01",
        "note": "Counts toward the Professional Educator License renewal for administrators.",
    },
    {
        "organisation": "isbe",
        "credential": "understanding-your-leadership-strengths",
        "credit_type": "pd_hours",
        "amount": "8",
        "effective_from": "2026-01-01",
        "note": "",
    },
    {
        "organisation": "isbe",
        "credential": "leading-data-informed-team-inquiry",
        "credit_type": "ceu",
        "amount": "1.5",
        "effective_from": "2026-09-01",
        "effective_to": "2027-08-31",
        "note": "Pilot year: recognised while the credential is in pilot.",
    },
]
