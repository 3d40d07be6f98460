"""Finnish messages a worker might write between supervision sessions, of varied length.

Sentences are combined one to five at a time, so a message runs from a few words to several
hundred characters. None of them matches the safety patterns (checked by ``check_texts``), so
the benchmark measures the ordinary dialogue path, not the safety message.
"""

from __future__ import annotations

import random

SHORT = (
    "Kiire.",
    "Ihan hyvä viikko.",
    "En tiedä vielä.",
    "Vähän väsyttää.",
    "Tänään meni paremmin.",
    "Kollega auttoi.",
    "Ehkä kuusi.",
    "Se helpotti.",
    "Sujui yllättävän hyvin.",
    "Asiakas kiitti lopuksi.",
)

SENTENCES = (
    "Aamuvuorossa oli taas liian vähän väkeä, ja jouduin priorisoimaan koko ajan.",
    "Yksi asiakas suuttui minulle, vaikka yritin selittää tilanteen rauhallisesti.",
    "Onnistuin kuitenkin rauhoittamaan tilanteen ennen kuin se kärjistyi.",
    "Tiimipalaverissa sain vihdoin sanottua ääneen sen, mikä on vaivannut pitkään.",
    "Esihenkilö kuunteli ja lupasi katsoa työvuorolistaa uudelleen.",
    "Kotikäynnillä huomasin, että asiakkaan vointi oli selvästi parempi kuin viime viikolla.",
    "Kirjaamiseen menee niin paljon aikaa, että varsinainen työ jää vähemmälle.",
    "Kollega tuli kysymään neuvoa, ja tunsin olevani hyödyksi.",
    "Perjantaina jäin miettimään yhtä perhettä vielä kotimatkalla.",
    "Uusi työntekijä on oppinut nopeasti, ja perehdyttäminen on ollut mukavaa.",
    "Minusta tuntuu, että teen paljon asioita, joita kukaan ei näe.",
    "Kävin kävelyllä ruokatauolla, ja se auttoi jaksamaan iltapäivän.",
    "Asiakas, jonka kanssa on ollut vaikeaa, hymyili ensimmäistä kertaa.",
    "Työyhteisössä on ollut jännitteitä siitä, kuka tekee mitäkin.",
    "Pidin kiinni omasta tauostani, vaikka kiire painoi päälle.",
    "Sain hyvää palautetta omaiselta, joka oli aiemmin hyvin kriittinen.",
    "Välillä tuntuu, että olen yksin vaikeiden päätösten kanssa.",
    "Huomasin, että osaan jo rajata työtä paremmin kuin vuosi sitten.",
    "Viikon aikana oli kolme sijaista, eikä kukaan tuntenut asiakkaita.",
    "Ryhmänohjaus sujui hienosti, ja nuoret osallistuivat keskusteluun.",
    "Ristiriita kollegan kanssa on vieläkin selvittämättä.",
    "Juttelin asiasta työparini kanssa, ja hän ymmärsi minua.",
    "Olen ollut ylpeä siitä, miten hoidimme eilisen hätätilanteen yhdessä.",
    "Palaverit venyvät, ja asiakastyölle jää liian vähän aikaa.",
    "Kun sain kirjaukset valmiiksi ajoissa, ilta tuntui kevyemmältä.",
    "Yövuoron jälkeen uni ei tahdo tulla, ja se näkyy seuraavana päivänä.",
    "Tein listan asioista, jotka ovat minun vastuullani, ja se selkeytti paljon.",
    "Opiskelija kysyi hyviä kysymyksiä, ja sain itsekin uutta ajateltavaa.",
    "Organisaatiomuutos huolettaa, koska kukaan ei tiedä, mitä syksyllä tapahtuu.",
    "Onnistuin sanomaan ei ylimääräiselle vuorolle, vaikka se oli vaikeaa.",
    "Asiakkaan omainen soitti monta kertaa päivässä, ja se kuormitti minua.",
    "Yhteinen kahvihetki tiimin kanssa palautti hyvän tunnelman.",
    "Minulla on tunne, että työ on muuttunut enemmän suorittamiseksi.",
    "Sain ratkaistua hankalan tilanteen soittamalla suoraan toiselle yksikölle.",
    "Kun muistan, miksi aikanaan hakeuduin tälle alalle, jaksan paremmin.",
    "Lomaan on vielä kuusi viikkoa, ja lasken jo päiviä.",
    "Kokeilin uutta tapaa aloittaa asiakastapaaminen, ja se toimi yllättävän hyvin.",
    "Tiimin ilmapiiri on parantunut sen jälkeen, kun sovimme pelisäännöistä.",
    "Työmatkalla kuuntelen musiikkia, ja se auttaa irrottautumaan työstä.",
    "Esihenkilön kanssa käyty keskustelu jäi vaivaamaan minua koko viikonlopuksi.",
)


def message(rng: random.Random) -> str:
    """One message: sometimes a few words, usually one to five sentences."""
    roll = rng.random()
    if roll < 0.15:
        return rng.choice(SHORT)
    count = 1 if roll < 0.45 else rng.randint(2, 5)
    return " ".join(rng.sample(SENTENCES, count))


def check_texts() -> list[str]:
    """Sentences that would trigger the safety layer (should be none)."""
    from bot.config import DEFAULT_PROMPTS_DIR
    from bot.safety import SAFETY_FILE, load_safety

    safety = load_safety(DEFAULT_PROMPTS_DIR / SAFETY_FILE)
    return [s for s in (*SHORT, *SENTENCES) if safety.matches(s)]
