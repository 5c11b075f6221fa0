"""The words the demo school is made of: names, courses, topics and comments.

Kept apart from :mod:`markbook.demo` so the generator reads as logic. Everything
here is a constant; the generator picks from these pools with a seeded RNG.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Culture:
    """Given names and surnames that belong together, and how a full name is written.

    ``surnames`` holds (masculine, feminine) pairs: Russian and Greek surnames change
    with gender, the others are the same word twice. ``order`` is "western" (given
    name first), "family" (surname first, separated by a space: Vietnamese) or
    "joined" (surname first, no space: Chinese, Korean). ``middle`` lists the
    Vietnamese middle names by gender.
    """

    key: str
    weight: int
    male: tuple[str, ...]
    female: tuple[str, ...]
    surnames: tuple[tuple[str, str], ...]
    order: str = "western"
    middle_male: tuple[str, ...] = ()
    middle_female: tuple[str, ...] = ()
    # Spanish names carry two surnames (father's, then mother's) this often.
    double_surname: float = 0.0


def _same(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, name) for name in names)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.strip().splitlines() if line.strip())


CULTURES: tuple[Culture, ...] = (
    Culture(
        "english",
        28,
        _words(
            "James Oliver Liam Noah Ethan Mason Lucas Henry Jack Samuel Benjamin Daniel Owen "
            "Caleb Isaac Wyatt Nathan Aiden Logan Elijah Carter Dylan Ryan Tyler Gavin Connor "
            "Jacob Michael Matthew Andrew"
        ),
        _words(
            "Olivia Emma Ava Sophia Isabella Mia Charlotte Amelia Harper Evelyn Abigail Emily "
            "Ella Madison Scarlett Grace Chloe Lily Hannah Zoe Nora Riley Layla Aubrey Savannah "
            "Brooklyn Claire Audrey Natalie Hazel"
        ),
        _same(
            *_words(
                "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas "
                "Moore Jackson White Harris Martin Thompson Clark Lewis Walker Hall Allen Young "
                "King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter "
                "Phillips Evans Turner Parker Collins Edwards Stewart Morris Rogers Cook Morgan "
                "Bell Bailey Cooper Richardson Howard Ward Peterson Gray Hughes Price Bennett "
                "Ashby-Clarke Lloyd-Evans"
            )
        ),
    ),
    Culture(
        "spanish",
        16,
        _words(
            "José Juan Luis Carlos Jorge Miguel Alejandro Diego Andrés Mateo Santiago Sebastián "
            "Nicolás Tomás Emilio Javier Raúl Óscar Iván Adrián Rubén Héctor Joaquín Ángel Martín"
        ),
        (
            *_words(
                "María Lucía Sofía Valentina Camila Isabel Elena Paula Daniela Gabriela Ximena "
                "Natalia Inés Beatriz Mónica Verónica Adriana Marisol Rocío Begoña Ana Carmen "
                "Pilar Nerea Fernanda"
            ),
            "María José",
            "Ana Sofía",
        ),
        _same(
            *_words(
                "García Rodríguez Martínez Hernández López González Pérez Sánchez Ramírez Torres "
                "Flores Rivera Gómez Díaz Cruz Morales Reyes Gutiérrez Ortiz Jiménez Ruiz Álvarez "
                "Castillo Romero Vásquez Muñoz Núñez Ibáñez Peña Domínguez Méndez Castañeda Zúñiga "
                "Fernández Velázquez"
            )
        ),
        double_surname=0.35,
    ),
    Culture(
        "portuguese",
        4,
        _words(
            "João Pedro Tiago Gonçalo Rafael Gustavo Thiago Vinícius Caio Leonardo Rodrigo Bruno "
            "André Luís Fábio Matheus Otávio Sérgio Antônio Davi"
        ),
        _words(
            "Ana Beatriz Mariana Inês Leonor Júlia Larissa Letícia Camila Fernanda Gabriela Bruna "
            "Luana Thaís Lívia Sílvia Conceição Vitória Isadora Raquel"
        ),
        _same(
            *_words(
                "Silva Santos Ferreira Pereira Oliveira Costa Rodrigues Martins Sousa Fernandes "
                "Gonçalves Gomes Lopes Marques Alves Almeida Ribeiro Pinto Carvalho Teixeira "
                "Moreira Correia Mendes Nunes Soares Vieira Monteiro Cardoso Araújo Magalhães "
                "Brandão Simões Assunção"
            )
        ),
    ),
    Culture(
        "french",
        5,
        _words(
            "Lucas Hugo Louis Gabriel Arthur Jules Raphaël Théo Léo Noé Mathéo Nathan Timothée "
            "Clément Maxime Étienne Jérôme François Benoît Rémi Jean-Luc Jean-Baptiste Aurélien "
            "Cédric Loïc"
        ),
        _words(
            "Chloé Léa Manon Camille Inès Zoé Océane Clémence Anaïs Maëlle Éloïse Mélanie Hélène "
            "Cécile Noémie Amélie Margaux Héloïse Gaëlle Agathe Marie-Claire Anne-Sophie "
            "Juliette Solène Élodie"
        ),
        _same(
            *_words(
                "Martin Bernard Dubois Robert Richard Petit Durand Leroy Moreau Simon Laurent "
                "Lefèvre Michel Garçon Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau "
                "Vincent Faure André Mercier Blanc Guérin Boyer Chevalier Gauthier Perrin "
                "Lemaître Béranger Côté Bélanger Gagné"
            ),
            "d'Artois",
            "De la Fontaine",
        ),
    ),
    Culture(
        "german",
        5,
        _words(
            "Lukas Jonas Leon Finn Elias Paul Felix Maximilian Moritz Jan Niklas Tobias Florian "
            "Sebastian Matthias Jürgen Jörg Björn Günther Ulrich Dietmar Kai Timo Lennard Johannes"
        ),
        _words(
            "Hannah Lena Leonie Lea Anna Marie Laura Johanna Katharina Sophie Mia Emilia Clara "
            "Greta Franziska Jana Maike Jördis Sünje Birgit Ute Heike Lotte Frieda Käthe"
        ),
        _same(
            *_words(
                "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann "
                "Schäfer Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun "
                "Krüger Hofmann Hartmann Lange Weiß Groß Jäger Köhler Böhm Strauß Fuß Lößl "
                "Vögele Meißner"
            )
        ),
    ),
    Culture(
        "irish",
        5,
        _words(
            "Seán Ciarán Pádraig Oisín Cian Darragh Eoin Tadhg Colm Diarmuid Ruairí Fionn "
            "Cillian Dónal Éamon Conor Liam Niall Rónán Aodhán"
        ),
        _words(
            "Siobhán Aoife Niamh Saoirse Caoimhe Róisín Ciara Clodagh Orla Sinéad Gráinne "
            "Aisling Éabha Méabh Bríd Nuala Deirdre Síle Áine Órlaith"
        ),
        (
            *_same(
                *_words(
                    "O'Brien O'Connor O'Sullivan O'Neill O'Reilly O'Donnell O'Mahony O'Shea "
                    "McCarthy McLoughlin MacNamara Kelly Byrne Ryan Walsh Doyle Murphy Kennedy "
                    "Fitzgerald Gallagher Quinn Brennan Nolan D'Arcy Keane"
                )
            ),
            ("Ó Súilleabháin", "Ní Shúilleabháin"),
            ("Mac Cárthaigh", "Nic Cárthaigh"),
            ("Ó Laoire", "Ní Laoire"),
        ),
    ),
    Culture(
        "dutch",
        3,
        _words("Daan Sem Lars Thijs Bram Jesse Ruben Stijn Joris Floris Wouter Pieter"),
        _words("Sanne Fleur Lotte Femke Anouk Noor Iris Eva Maud Roos Marieke Lieke"),
        _same(
            "de Vries",
            "van den Berg",
            "van Dijk",
            "Bakker",
            "Janssen",
            "Visser",
            "Smit",
            "de Jong",
            "van der Meer",
            "de Boer",
            "Mulder",
            "de Groot",
            "Bos",
            "Vos",
            "Hendriks",
            "van Leeuwen",
            "Dekker",
            "Brouwer",
            "de Wit",
            "van 't Hof",
        ),
    ),
    Culture(
        "russian",
        5,
        _words(
            "Александр Дмитрий Максим Сергей Андрей Алексей Артём Илья Кирилл Михаил Никита "
            "Матвей Роман Егор Иван Владимир Павел Фёдор Юрий Григорий"
        ),
        _words(
            "Анна Мария Елена Ольга Наталья Екатерина Татьяна Анастасия Дарья Ксения Полина "
            "Алёна Виктория Софья Юлия Вера Ирина Светлана Людмила Василиса"
        ),
        (
            *(
                (stem, stem + "а")
                for stem in _words(
                    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков "
                    "Фёдоров Морозов Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов "
                    "Степанов Николаев Орлов Андреев Макаров Никитин Захаров Зайцев Соловьёв "
                    "Белов Яковлев"
                )
            ),
            ("Чайковский", "Чайковская"),
            ("Достоевский", "Достоевская"),
            ("Толстой", "Толстая"),
        ),
    ),
    Culture(
        "greek",
        3,
        _words(
            "Γιώργος Δημήτρης Κωνσταντίνος Γιάννης Νίκος Παναγιώτης Βασίλης Χρήστος Αθανάσιος "
            "Μιχάλης Ευάγγελος Σπύρος Αντώνης Ηλίας Θοδωρής Στέλιος Άγγελος Στέφανος Αλέξανδρος "
            "Πέτρος"
        ),
        _words(
            "Μαρία Ελένη Αικατερίνη Βασιλική Σοφία Αγγελική Γεωργία Δήμητρα Κωνσταντίνα "
            "Ευαγγελία Ιωάννα Χριστίνα Αναστασία Παρασκευή Ειρήνη Δέσποινα Αθηνά Φωτεινή Ζωή "
            "Θεοδώρα"
        ),
        (
            ("Παπαδόπουλος", "Παπαδοπούλου"),
            ("Πετρόπουλος", "Πετροπούλου"),
            ("Σταματόπουλος", "Σταματοπούλου"),
            ("Παπαδάκης", "Παπαδάκη"),
            ("Καραγιάννης", "Καραγιάννη"),
            ("Χατζηδάκης", "Χατζηδάκη"),
            ("Μακρής", "Μακρή"),
            ("Κουτσούρης", "Κουτσούρη"),
            ("Βλάχος", "Βλάχου"),
            ("Μαυρίδης", "Μαυρίδου"),
            *_same(
                *_words(
                    "Παπαγεωργίου Οικονόμου Γεωργίου Νικολάου Αντωνίου Ιωάννου Δημητρίου "
                    "Κωνσταντίνου Αλεξίου Αθανασίου"
                )
            ),
        ),
    ),
    Culture(
        "chinese",
        7,
        _words("伟 强 磊 军 洋 勇 杰 涛 明 超 浩然 子轩 宇航 俊杰 建华 志强 文博 天佑 家豪 一鸣"),
        _words("芳 娜 敏 静 丽 艳 娟 霞 婷 雪 欣怡 梓涵 诗琪 雨桐 佳怡 思彤 晓梅 美玲 秀英 梦瑶"),
        _same(
            *_words(
                "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 "
                "冯 邓 曹 欧阳 司马"
            )
        ),
        order="joined",
    ),
    Culture(
        "korean",
        4,
        _words("민준 서준 도윤 예준 시우 하준 주원 지호 지후 준우 현우 건우 우진 선우 유준"),
        _words("서연 서윤 지우 서현 민서 하은 하윤 윤서 지유 지민 채원 수아 지아 다은 은서"),
        _same(*_words("김 이 박 최 정 강 조 윤 장 임 한 오 서 신 권 황 안 송 류 홍")),
        order="joined",
    ),
    Culture(
        "vietnamese",
        5,
        _words(
            "An Bảo Dũng Hùng Khoa Long Nam Phúc Quân Thắng Tuấn Việt Huy Đạt Khánh Trí Sơn Hiếu"
        ),
        _words(
            "Anh Hà Hương Lan Linh Mai My Ngân Nhung Phương Thảo Trang Vy Yến Hằng Diệp Ngọc Uyên"
        ),
        _same(
            *_words(
                "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Trương Đinh"
            )
        ),
        order="family",
        middle_male=_words("Văn Đức Minh Quang Hữu Công"),
        middle_female=_words("Thị Ngọc Thu Thanh Kim Bảo"),
    ),
    Culture(
        "arabic",
        5,
        _words(
            "Omar Yusuf Ahmed Ali Hassan Khalid Tariq Karim Samir Bilal Hamza Ibrahim Mustafa "
            "Rami Ziad Adnan Nabil Faris Zayd Walid"
        ),
        _words(
            "Fatima Aisha Layla Mariam Noor Yasmin Salma Huda Rania Lina Dalia Amira Zainab Hana "
            "Sara Nadia Samira Reem Farah Jana"
        ),
        _same(
            *_words(
                "Al-Sayed Haddad Khoury Mansour Nasser Saleh Hamdan Abdullah Al-Masri El-Amin "
                "Bakr Darwish Farouk Ghanem Hakim Issa Jaber Kassab Qureshi Rahman Sabbagh Tahan "
                "Yousef Zaki Abu-Ghazaleh Al-Hashimi"
            )
        ),
    ),
    Culture(
        "indian",
        5,
        _words(
            "Aarav Vivaan Aditya Arjun Rohan Ishaan Kabir Dev Rahul Sanjay Vikram Anand Nikhil "
            "Pranav Siddharth Rajesh"
        ),
        _words(
            "Priya Ananya Diya Isha Kavya Meera Neha Pooja Riya Saanvi Shreya Tanvi Aditi Lakshmi "
            "Deepa Sunita"
        ),
        _same(
            *_words(
                "Patel Sharma Singh Gupta Iyer Reddy Nair Kapoor Chatterjee Menon Rao Desai Joshi "
                "Mehta Kulkarni Banerjee Pillai Verma"
            )
        ),
    ),
)

CULTURE_BY_KEY = {culture.key: culture for culture in CULTURES}


@dataclass(frozen=True)
class FixedStudent:
    """A student whose name later tests look for; their family is made to match."""

    name: str
    given: str  # what written reports call the student
    gender: str  # "f" or "m"
    culture: str
    surname: tuple[str, str]  # (masculine, feminine), for the guardians' names


# The first students, in this order, with these exact names: accents, Cyrillic,
# Han characters, Greek, an apostrophe, a comma and a double quote.
FIXED_STUDENTS: tuple[FixedStudent, ...] = (
    FixedStudent("José Núñez", "José", "m", "spanish", ("Núñez", "Núñez")),
    FixedStudent("Анна Иванова", "Анна", "f", "russian", ("Иванов", "Иванова")),
    FixedStudent("李雷", "李雷", "m", "chinese", ("李", "李")),
    FixedStudent("Γιώργος Παπαδόπουλος", "Γιώργος", "m", "greek", ("Παπαδόπουλος", "Παπαδοπούλου")),
    FixedStudent("Siobhán O'Brien", "Siobhán", "f", "irish", ("O'Brien", "O'Brien")),
    FixedStudent("Smith, Jr.", "Smith, Jr.", "m", "english", ("Smith", "Smith")),
    FixedStudent('Mary "Molly" Jones', "Molly", "f", "english", ("Jones", "Jones")),
)

# ---------------------------------------------------------------------------
# Courses
# ---------------------------------------------------------------------------

ENGLISH = "English"
MATHEMATICS = "Mathematics"
SCIENCE = "Science"
SOCIAL_STUDIES = "Social Studies"
WORLD_LANGUAGES = "World Languages"
ARTS = "Arts"
PE_HEALTH = "Physical Education & Health"
COMPUTER_SCIENCE = "Computer Science"
ELECTIVES = "Electives"


@dataclass(frozen=True)
class CourseSpec:
    """One course in the catalogue; each term it runs as one or more sections."""

    code: str  # short, for external ids
    title: str
    subject: str
    credits: str  # a Decimal literal
    # Which mix of assignment categories it sets (see ASSIGNMENT_PLANS).
    plan: str
    topics: tuple[str, ...]


def _course(
    code: str, title: str, subject: str, topics: str, credits: str = "0.50", plan: str = "core"
) -> CourseSpec:
    return CourseSpec(code, title, subject, credits, plan, _lines(topics))


_ENGLISH_TOPICS = """
    Narrative writing
    Short stories
    Poetry and figurative language
    Argumentative essays
    Research skills
    Shakespeare
    The novel
    Rhetoric and persuasion
    Vocabulary in context
"""

CATALOGUE: tuple[CourseSpec, ...] = (
    _course("ENG9", "English 9", ENGLISH, _ENGLISH_TOPICS),
    _course("ENG10", "English 10", ENGLISH, _ENGLISH_TOPICS),
    _course("AMLIT", "American Literature", ENGLISH, _ENGLISH_TOPICS),
    _course("APLANG", "AP English Language", ENGLISH, _ENGLISH_TOPICS, "1.00"),
    _course("BRLIT", "British Literature", ENGLISH, _ENGLISH_TOPICS),
    _course("APLIT", "AP English Literature", ENGLISH, _ENGLISH_TOPICS, "1.00"),
    _course(
        "ALG1",
        "Algebra I",
        MATHEMATICS,
        """
        Expressions and equations
        Linear equations
        Inequalities
        Functions
        Systems of equations
        Exponents
        Polynomials
        Factoring
        Quadratic equations
        """,
    ),
    _course(
        "GEOM",
        "Geometry",
        MATHEMATICS,
        """
        Points, lines and planes
        Proofs
        Parallel lines
        Congruent triangles
        Similarity
        Right triangles
        Circles
        Area and volume
        """,
    ),
    _course(
        "ALG2",
        "Algebra II",
        MATHEMATICS,
        """
        Linear functions
        Quadratic functions
        Polynomial functions
        Rational expressions
        Radicals
        Exponential functions
        Logarithms
        Sequences and series
        """,
    ),
    _course(
        "PREC",
        "Precalculus",
        MATHEMATICS,
        """
        Functions and graphs
        Trigonometric functions
        Trigonometric identities
        Vectors
        Polar coordinates
        Conic sections
        Limits
        """,
    ),
    _course(
        "APCALC",
        "AP Calculus AB",
        MATHEMATICS,
        """
        Limits and continuity
        Derivatives
        Chain rule
        Applications of derivatives
        Integrals
        Fundamental theorem
        Differential equations
        """,
        "1.00",
    ),
    _course(
        "STAT",
        "Statistics",
        MATHEMATICS,
        """
        Describing data
        Distributions
        Probability
        Sampling
        Confidence intervals
        Hypothesis tests
        Regression
        """,
    ),
    _course(
        "BIO",
        "Biology",
        SCIENCE,
        """
        Cells
        Cell energy
        Genetics
        DNA and proteins
        Evolution
        Ecology
        Human body systems
        """,
        plan="lab",
    ),
    _course(
        "CHEM",
        "Chemistry",
        SCIENCE,
        """
        Matter and measurement
        Atomic structure
        The periodic table
        Chemical bonding
        Reactions
        Stoichiometry
        Gases
        Acids and bases
        """,
        plan="lab",
    ),
    _course(
        "PHYS",
        "Physics",
        SCIENCE,
        """
        Motion in one dimension
        Vectors
        Newton's laws
        Work and energy
        Momentum
        Waves
        Electricity
        """,
        plan="lab",
    ),
    _course(
        "APBIO",
        "AP Biology",
        SCIENCE,
        """
        Chemistry of life
        Cell structure
        Cellular energetics
        Heredity
        Gene expression
        Natural selection
        Ecology
        """,
        "1.00",
        plan="lab",
    ),
    _course(
        "ENVSCI",
        "Environmental Science",
        SCIENCE,
        """
        Ecosystems
        Biodiversity
        Populations
        Earth systems
        Water and land use
        Energy resources
        Pollution
        Climate change
        """,
        plan="lab",
    ),
    _course(
        "ANAT",
        "Anatomy & Physiology",
        SCIENCE,
        """
        Body organisation
        Skeletal system
        Muscular system
        Nervous system
        Cardiovascular system
        Respiratory system
        Digestive system
        """,
        plan="lab",
    ),
    _course(
        "WGEO",
        "World Geography",
        SOCIAL_STUDIES,
        """
        Maps and regions
        Physical geography
        Population
        Culture
        Economic geography
        Political geography
        Urbanisation
        """,
    ),
    _course(
        "WHIST",
        "World History",
        SOCIAL_STUDIES,
        """
        Ancient civilisations
        Classical empires
        The Middle Ages
        Renaissance and Reformation
        Age of exploration
        Revolutions
        Industrialisation
        The world wars
        """,
    ),
    _course(
        "USHIST",
        "U.S. History",
        SOCIAL_STUDIES,
        """
        Colonial America
        The Constitution
        Westward expansion
        Civil War and Reconstruction
        The Progressive Era
        The Great Depression
        Civil rights
        The Cold War
        """,
    ),
    _course(
        "APUSH",
        "AP U.S. History",
        SOCIAL_STUDIES,
        """
        Period 1-2: Contact and colonies
        Period 3: Revolution
        Period 4: The early republic
        Period 5: Sectional crisis
        Period 6: The Gilded Age
        Period 7: Becoming a world power
        Period 8-9: Postwar America
        """,
        "1.00",
    ),
    _course(
        "GOV",
        "Government",
        SOCIAL_STUDIES,
        """
        Foundations of government
        The Constitution
        Congress
        The presidency
        The courts
        Civil liberties
        Elections and parties
        """,
    ),
    _course(
        "ECON",
        "Economics",
        SOCIAL_STUDIES,
        """
        Scarcity and choice
        Supply and demand
        Market structures
        Money and banking
        Inflation
        Fiscal policy
        Trade
        """,
    ),
    *(
        _course(
            f"{code}{level}",
            f"{language} {numeral}",
            WORLD_LANGUAGES,
            topics,
        )
        for language, code, levels, topics in (
            (
                "Spanish",
                "SPAN",
                4,
                """
                Greetings and introductions
                La familia
                Present tense verbs
                Ser y estar
                El pretérito
                El imperfecto
                Food and culture
                Travel vocabulary
                """,
            ),
            (
                "French",
                "FREN",
                4,
                """
                Greetings and introductions
                La famille
                Present tense verbs
                Le passé composé
                L'imparfait
                Food and culture
                La francophonie
                """,
            ),
            (
                "Mandarin",
                "MAND",
                3,
                """
                Pinyin and tones
                Greetings
                Numbers and dates
                Family
                Measure words
                Daily routine
                Characters review
                """,
            ),
            (
                "German",
                "GERM",
                3,
                """
                Greetings and introductions
                Die Familie
                Present tense verbs
                Cases
                Das Perfekt
                Food and culture
                Modal verbs
                """,
            ),
        )
        for level, numeral in zip(range(1, levels + 1), ("I", "II", "III", "IV"), strict=False)
    ),
    *(
        _course(code, title, ARTS, topics, plan="arts")
        for code, title, topics in (
            (
                "ART1",
                "Visual Art I",
                "Line and shape\nColour theory\nPerspective\nPortraits\nStill life\nMixed media",
            ),
            (
                "CERAM",
                "Ceramics",
                "Pinch pots\nCoil building\nSlab construction\nWheel throwing\nGlazing",
            ),
            (
                "PHOTO",
                "Photography",
                "Composition\nExposure\nLight\nPortraits\nEditing\nPhoto essay",
            ),
            (
                "CHOIR",
                "Concert Choir",
                "Breathing and posture\nSight-reading\nHarmony\nRepertoire\nPerformance",
            ),
            (
                "BAND",
                "Concert Band",
                "Scales\nRhythm\nEnsemble playing\nRepertoire\nPerformance",
            ),
            (
                "DRAMA",
                "Drama",
                "Improvisation\nCharacter work\nScript analysis\nStagecraft\nPerformance",
            ),
            (
                "DMEDIA",
                "Digital Media",
                "Design principles\nTypography\nImage editing\nVideo\nAnimation",
            ),
        )
    ),
    _course(
        "PE",
        "Physical Education",
        PE_HEALTH,
        "Fitness testing\nTeam sports\nNet games\nTrack and field\nDance\nLifetime fitness",
        "0.25",
        plan="pe",
    ),
    _course(
        "HEALTH",
        "Health",
        PE_HEALTH,
        "Nutrition\nMental health\nSleep\nSubstance use\nRelationships\nFirst aid",
        "0.25",
        plan="core",
    ),
    _course(
        "FITW",
        "Fitness & Wellness",
        PE_HEALTH,
        "Strength training\nCardio\nFlexibility\nGoal setting\nNutrition",
        "0.25",
        plan="pe",
    ),
    _course(
        "TEAMSP",
        "Team Sports",
        PE_HEALTH,
        "Basketball\nVolleyball\nSoccer\nFlag football\nSoftball",
        "0.25",
        plan="pe",
    ),
    _course(
        "CSP",
        "Computer Science Principles",
        COMPUTER_SCIENCE,
        """
        The internet
        Binary and data
        Algorithms
        Programming basics
        Lists and loops
        Cybersecurity
        Impact of computing
        """,
    ),
    _course(
        "APCSA",
        "AP Computer Science A",
        COMPUTER_SCIENCE,
        """
        Primitive types
        Objects
        Conditionals
        Iteration
        Classes
        Arrays and ArrayLists
        Recursion
        """,
        "1.00",
    ),
    _course(
        "ROBOT",
        "Robotics",
        COMPUTER_SCIENCE,
        "Sensors\nMotors\nProgramming robots\nDesign challenge\nCompetition prep",
        plan="arts",
    ),
    _course(
        "PSYCH",
        "Psychology",
        ELECTIVES,
        "Research methods\nThe brain\nSensation and perception\nLearning\nMemory\nPersonality",
    ),
    _course(
        "JOURN",
        "Journalism",
        ELECTIVES,
        "News writing\nInterviewing\nEditing\nFeature stories\nMedia ethics\nLayout",
        plan="arts",
    ),
    _course(
        "CWRIT",
        "Creative Writing",
        ELECTIVES,
        "Fiction\nPoetry\nMemoir\nDialogue\nRevision workshop",
        plan="arts",
    ),
    _course(
        "FINLIT",
        "Financial Literacy",
        ELECTIVES,
        "Budgeting\nBanking\nCredit\nTaxes\nInvesting\nInsurance",
    ),
    _course(
        "SOC",
        "Sociology",
        ELECTIVES,
        "Culture\nSocialisation\nGroups\nDeviance\nInequality\nSocial change",
    ),
    _course(
        "FORENS",
        "Forensic Science",
        SCIENCE,
        "Crime scenes\nFingerprints\nTrace evidence\nBlood spatter\nDNA profiling",
        plan="lab",
    ),
)

COURSES = {spec.code: spec for spec in CATALOGUE}

# Each category: (name, weight, choices of max points, assignments per 20-week term).
ASSIGNMENT_PLANS: dict[str, tuple[tuple[str, int, tuple[int, ...], int], ...]] = {
    "core": (
        ("Homework", 1, (10, 20), 12),
        ("Quiz", 2, (20, 25), 6),
        ("Test", 4, (100,), 3),
        ("Project", 3, (50, 100), 2),
    ),
    "lab": (
        ("Homework", 1, (10, 20), 8),
        ("Lab", 2, (30,), 5),
        ("Quiz", 2, (20, 25), 5),
        ("Test", 4, (100,), 3),
    ),
    "arts": (
        ("Practice log", 1, (10,), 10),
        ("Critique", 2, (20,), 4),
        ("Project", 3, (50, 100), 3),
        ("Portfolio review", 4, (100,), 2),
    ),
    "pe": (
        ("Participation", 1, (10,), 14),
        ("Skills assessment", 2, (25,), 5),
        ("Fitness test", 3, (50,), 2),
    ),
}

# ---------------------------------------------------------------------------
# Free text
# ---------------------------------------------------------------------------

# Texts that look like spreadsheet formulas or hold characters that trip up
# exports (quotes, newlines, a tab). They are put on the first students' records
# where export tests can find them.
FORMULA_SUM = "=SUM(A1:A3)"
PHONE_NUMBER = "+1 555 0100"
AT_HOME = "@home"
LATENESS = "-5 points for lateness"
QUOTED_MULTILINE = 'He said "I\'ll try harder"\nNext: fractions'
WITH_TAB = "Participates well.\tSits near the front."
AWKWARD_TEXTS = (FORMULA_SUM, PHONE_NUMBER, AT_HOME, LATENESS, QUOTED_MULTILINE, WITH_TAB)

# Grade feedback by how well the piece went: index 0 best .. 3 weakest.
FEEDBACK_BY_BAND: tuple[tuple[str, ...], ...] = (
    _lines(
        """
        Excellent work.
        Thorough and well organised.
        Great reasoning, keep it up!
        Outstanding effort.
        Clear, careful answers.
        Impressive attention to detail.
        Exactly what I was looking for.
        """
    ),
    _lines(
        """
        Good work; check your units.
        Solid effort.
        Nice job, watch the small errors.
        Good understanding shown.
        Mostly correct; see my notes.
        Well done overall.
        """
    ),
    _lines(
        """
        Review the worked examples in the notes.
        Show all of your steps.
        Partially correct; see comments.
        Some good ideas, but incomplete.
        Re-read the question carefully.
        Check the rubric before resubmitting.
        """
    ),
    _lines(
        """
        Please come to office hours.
        Let's go over this together.
        Redo and resubmit for partial credit.
        This needs more effort.
        See me before the next test.
        Several key steps are missing.
        """
    ),
)
FEEDBACK_MISSING = _lines(
    """
    Not submitted.
    Missing: please hand in by Friday.
    No work received.
    Still waiting for this one.
    """
)
FEEDBACK_LATE = _lines(
    """
    Submitted late (10% off).
    Late penalty applied.
    Late, but good work.
    """
)
FEEDBACK_EXCUSED = _lines(
    """
    Excused (absent).
    Excused: medical note.
    Excused for a school trip.
    """
)

# {name} is the student's given name.
PROGRESS_BY_BAND: tuple[tuple[str, ...], ...] = (
    _lines(
        """
        {name} is working well ahead of expectations.
        {name} produced excellent work this week.
        {name} helps classmates and understands the material deeply.
        Another strong week for {name}.
        """
    ),
    _lines(
        """
        {name} is making steady progress.
        {name} had a good week and is keeping up.
        {name} understands most of the unit so far.
        Solid week; {name} is on track.
        """
    ),
    _lines(
        """
        {name} is keeping up, but some gaps are showing.
        {name} understands the basics and needs more practice.
        Mixed week for {name}: good in class, weaker on homework.
        {name} should ask for help sooner.
        """
    ),
    _lines(
        """
        {name} is falling behind and has missing work.
        {name} is struggling with the current unit.
        {name} needs support to catch up.
        Concerned about {name}'s progress this week.
        """
    ),
)
BEHAVIOUR = _lines(
    """
    Attentive and respectful.
    Works well with peers.
    Needs reminders to stay on task.
    Occasionally distracted by phone.
    Participates actively in discussions.
    Quiet but focused.
    Arrives on time and prepared.
    Talkative during independent work.
    Very positive attitude.
    """
)
NEXT_STEPS = _lines(
    """
    Complete missing homework by Friday.
    Attend the Tuesday help session.
    Try the extension problems.
    Review notes before the next quiz.
    Keep a vocabulary list.
    Start the project outline early.
    Practise 20 minutes a day.
    Check answers against the key.
    Ask questions in class.
    """
)

TUTOR_TOPICS: dict[str, tuple[str, ...]] = {
    "math": _lines(
        """
        Linear equations
        Fractions and decimals
        Quadratic functions
        Trigonometry basics
        Systems of equations
        Exponents and radicals
        Word problems
        Test preparation
        """
    ),
    "reading": _lines(
        """
        Essay structure
        Thesis statements
        Reading comprehension
        Vocabulary
        Citations (MLA)
        Close reading
        Grammar review
        """
    ),
    "science": _lines(
        """
        Stoichiometry
        Cell biology
        Newton's laws
        Lab report writing
        Balancing equations
        Genetics problems
        Graphing data
        """
    ),
    "languages": _lines(
        """
        Verb conjugation
        Listening practice
        Conversation
        Vocabulary drills
        Writing paragraphs
        Past tenses
        """
    ),
}
TUTOR_SPECIALTIES = tuple(TUTOR_TOPICS)
TUTOR_NOTES = _lines(
    """
    Good session; focused throughout.
    Struggled with word problems; will revisit.
    Completed all practice problems.
    Arrived late, so a shorter session.
    Confidence is improving.
    Forgot homework materials; we reviewed notes instead.
    Asked great questions today.
    Needs more practice before the test.
    Worked through last week's quiz corrections.
    """
)

REPORT_SUMMARY_BY_BAND: tuple[tuple[str, ...], ...] = (
    _lines(
        """
        {name} has had an excellent {period}, with high marks in every course.
        {name} is an outstanding student and a pleasure to teach.
        """
    ),
    _lines(
        """
        {name} has had a good {period} and is meeting expectations.
        {name} works consistently and is making solid progress.
        """
    ),
    _lines(
        """
        {name} is passing most courses but is not yet working to potential.
        {name}'s {period} has been uneven: strong in some courses, weaker in others.
        """
    ),
    _lines(
        """
        {name} is at risk of failing one or more courses this {period}.
        {name} has found this {period} difficult and needs a support plan.
        """
    ),
)
STRENGTHS = _lines(
    """
    Curious and asks thoughtful questions.
    Strong written communication.
    Reliable homework completion.
    Works well in groups.
    Excellent problem-solving skills.
    Creative in projects.
    Respectful and kind to others.
    Persistent when work is hard.
    """
)
CONCERNS = _lines(
    """
    Several missing assignments.
    Frequent absences are affecting progress.
    Test scores lower than classwork suggests.
    Often unprepared for class.
    Difficulty staying focused.
    Rarely asks for help.
    """
)
RECOMMENDATIONS = _lines(
    """
    Use a planner for deadlines.
    Attend after-school tutoring twice a week.
    Read for 20 minutes every evening.
    Meet with the counsellor to set goals.
    Review notes weekly, not only before tests.
    Consider an honours or AP course next year.
    Keep up the good work.
    """
)

GUARDIAN_LABELS_FEMALE = ("mother", "mother", "mother", "mother", "grandmother", "aunt")
GUARDIAN_LABELS_MALE = ("father", "father", "father", "father", "grandfather", "uncle")
